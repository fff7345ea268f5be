#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The PAM stacks printed in docs/ and docs/man/ are run as printed.

Every PAM stack in the docs carries a marker on the line before it that
names the service and what the text promises for root, for a local password
user without a tokenseal record (carol) and for an identity-provider user
(alice):

  Markdown (docs/*.md), before a fenced code block:
      <!-- pam-stack: service=sshd root=password carol=password alice=device -->
  Man pages (docs/man/*.[1-8]), before a .nf/.fi block:
      .\\" pam-stack: service=sshd root=password carol=password alice=device

Promises: root=password (the only one allowed: no documented stack may lock
root out), carol=password|refused, alice=device|stored (see
test_doc_stacks.c for what each one asserts).

  doc_stacks.py check SRCDIR
      Extract every stack; fail on a stack line without a marker (in a code
      block, a .nf block, an indented block or a bare man-page line), on a
      marker not followed by a stack, on an unknown promise or service, on
      a marker promising anything but root=password, and on any
      pam_tokenseal.so line (docs, README.md, packaging/README.md, the
      pam-configs profile; prose too) whose [...] control has no ignore=
      action and default=die or default=bad (unless marked as the
      pam-stack-counterexample). A self-test first shows that each of those
      is caught.
  doc_stacks.py run SRCDIR --work DIR --module SO --broker BIN --test TEST
                    --pam-wrapper LIB --pam-matrix SO
      Run each stack (and the shipped pam-auth-update profile, assembled by
      pam-auth-update itself into common-auth/-account/-session) under
      pam_wrapper with pam_matrix.so in place of pam_unix.so: TEST once per
      stack. Needs root and pam-auth-update (SKIPPED otherwise).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
PHASE = r"(?:auth|account|session|password)"
STACK_LINE = re.compile(r"^\s*(?:" + PHASE + r"\s+\S|@include\s)")
# a stack line that somebody wrote as a module line: phase, control, module
BARE_LINE = re.compile(r"^\s*" + PHASE + r"\s+(?:\[[^]]*\]|\w+)\s+\S*pam_\w+\.so\b")
MARKER = re.compile(r"pam-stack:\s*(.*?)\s*(?:-->)?\s*$")
SERVICES = {"sshd": "remote", "login": "local", "sudo": "local", "su": "local"}
PROMISES = {"root": {"password"}, "carol": {"password", "refused"},
            "alice": {"device", "stored"}}


class Stack:
    def __init__(self, path, line, fields):
        self.path, self.line, self.fields = path, line, fields
        self.lines = []

    def name(self):
        return "%s:%d" % (self.path, self.line)


def parse_marker(text, where, errors):
    fields = {}
    for item in text.split():
        if "=" not in item:
            errors.append("%s: marker item %r is not KEY=VALUE" % (where, item))
            continue
        k, v = item.split("=", 1)
        fields[k] = v
    svc = fields.get("service")
    if svc not in SERVICES:
        errors.append("%s: marker service=%s is not one of %s" %
                      (where, svc, ", ".join(sorted(SERVICES))))
    for who, allowed in PROMISES.items():
        if fields.get(who) not in allowed:
            errors.append("%s: marker %s=%s: must be one of %s%s" %
                          (where, who, fields.get(who), "|".join(sorted(allowed)),
                           " (no documented stack may lock root out)"
                           if who == "root" else ""))
    for k in fields:
        if k != "service" and k not in PROMISES:
            errors.append("%s: marker names %r, which the test does not know" % (where, k))
    return fields


def extract_md(path, text, errors):
    stacks, pending, fence = [], None, None
    cur = None
    for n, line in enumerate(text.splitlines(), 1):
        where = "%s:%d" % (path, n)
        if fence is None:
            m = MARKER.search(line) if line.lstrip().startswith("<!--") else None
            if m:
                if pending:
                    errors.append("%s: marker not followed by a stack" % pending.name())
                pending = Stack(path, n, parse_marker(m.group(1), where, errors))
                continue
            if re.match(r"^\s*```", line):
                fence = n
                cur = pending
                pending = None
                continue
            if re.match(r"^(    |\t)", line) and STACK_LINE.match(line):
                errors.append("%s: a PAM stack line in an indented block; put the stack in "
                              "a fenced block after a pam-stack marker" % where)
            elif line.strip() and pending:
                errors.append("%s: marker not followed by a stack" % pending.name())
                pending = None
        else:
            if re.match(r"^\s*```", line):
                if cur is not None and cur.fields is not None:
                    if cur.lines:
                        stacks.append(cur)
                    else:
                        errors.append("%s: marker not followed by a stack" % cur.name())
                fence, cur = None, None
                continue
            if STACK_LINE.match(line):
                if cur is None:
                    errors.append("%s: a PAM stack without a pam-stack marker before its "
                                  "block (the test runs every documented stack)" % where)
                    cur = Stack(path, n, None)  # report once per block
                elif cur.fields is not None:
                    cur.lines.append(line.strip())
    if pending:
        errors.append("%s: marker not followed by a stack" % pending.name())
    return [s for s in stacks if s.fields is not None]


def extract_man(path, text, errors):
    stacks, pending, cur, in_nf = [], None, None, False
    for n, line in enumerate(text.splitlines(), 1):
        where = "%s:%d" % (path, n)
        m = MARKER.search(line) if line.startswith('.\\"') else None
        if m:
            if pending:
                errors.append("%s: marker not followed by a stack" % pending.name())
            pending = Stack(path, n, parse_marker(m.group(1), where, errors))
            continue
        if re.match(r"^\.nf\b", line):
            in_nf, cur, pending = True, pending, None
            continue
        if re.match(r"^\.fi\b", line):
            if cur is not None and cur.fields is not None:
                if cur.lines:
                    stacks.append(cur)
                else:
                    errors.append("%s: marker not followed by a stack" % cur.name())
            in_nf, cur = False, None
            continue
        if in_nf and STACK_LINE.match(line):
            line = line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
            if cur is None:
                errors.append("%s: a PAM stack without a pam-stack marker before its .nf "
                              "(the test runs every documented stack)" % where)
                cur = Stack(path, n, None)
            elif cur.fields is not None:
                cur.lines.append(line.strip())
        elif not in_nf and BARE_LINE.match(line):
            errors.append("%s: a PAM stack line outside a .nf block; put it in one after a "
                          "pam-stack marker" % where)
    if pending:
        errors.append("%s: marker not followed by a stack" % pending.name())
    return stacks


CONTROL = re.compile(r"\[([^]]*)\]\s+\S*pam_tokenseal\.so")
LINT_FILES = ("docs/*.md", "docs/man/*.[1-8]", "README.md", "packaging/README.md",
              "packaging/pam-configs/*")


def lint_controls(path, text, errors):
    """Any pam_tokenseal.so line with a [...] control, stack or prose: an
    ignore that falls to default=die or default=bad fails the stack for
    root. A line quoted as the counterexample (a pam-stack-counterexample
    comment on it or on one of the two lines before) is exempt."""
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        for m in CONTROL.finditer(line.replace("\\-", "-")):
            acts = dict(a.split("=", 1) for a in m.group(1).split() if "=" in a)
            if "ignore" in acts:
                continue
            if acts.get("default") in ("die", "bad"):
                if any("pam-stack-counterexample" in l for l in lines[max(0, n - 3):n]):
                    continue
                errors.append("%s:%d: [%s] pam_tokenseal.so has no ignore= action: its "
                              "PAM_IGNORE (root, system accounts, nobody) falls to default=%s "
                              "and fails the stack; add ignore=ignore"
                              % (path, n, m.group(1), acts["default"]))


def extract(srcdir):
    errors, stacks = [], []
    for pattern in LINT_FILES:
        for path in sorted(glob.glob(os.path.join(srcdir, pattern))):
            with open(path, encoding="utf-8") as f:
                lint_controls(os.path.relpath(path, srcdir), f.read(), errors)
    for path in sorted(glob.glob(os.path.join(srcdir, "docs", "*.md"))):
        with open(path, encoding="utf-8") as f:
            stacks += extract_md(os.path.relpath(path, srcdir), f.read(), errors)
    for path in sorted(glob.glob(os.path.join(srcdir, "docs", "man", "*.[1-8]"))):
        with open(path, encoding="utf-8") as f:
            stacks += extract_man(os.path.relpath(path, srcdir), f.read(), errors)
    return stacks, errors


def selftest():
    """Each rule fails on a broken sample; returns a list of failures."""
    good_md = ("<!-- pam-stack: service=sshd root=password carol=password alice=device -->\n"
               "```\nauth required pam_tokenseal.so\n```\n")
    good_man = ('.\\" pam-stack: service=login root=password carol=refused alice=device\n'
                ".nf\nauth required pam_tokenseal.so\n.fi\n")
    cases = [
        ("md", good_md, None),
        ("man", good_man, None),
        ("md", "```\nauth required pam_tokenseal.so\n```\n", "without a pam-stack marker"),
        ("md", good_md.replace("root=password", "root=refused"), "lock root out"),
        ("md", good_md.replace("alice=device", "alice=maybe"), "alice=maybe"),
        ("md", good_md.replace("service=sshd", "service=ftp"), "service=ftp"),
        ("md", good_md + "    auth required pam_x.so\n", "indented block"),
        ("md", good_md.replace("auth required pam_tokenseal.so\n", ""), "not followed"),
        ("man", good_man.replace('.\\" pam-stack: service=login root=password carol=refused '
                                 'alice=device\n', ""), "without a pam-stack marker"),
        ("man", good_man + "auth sufficient pam_tokenseal.so\n", "outside a .nf block"),
        ("man", good_man.replace("root=password", "root=refused"), "lock root out"),
        ("man", good_man.replace("carol=refused ", ""), "carol=None"),
        ("lint", "use `auth [success=done default=die] pam_tokenseal.so` here\n",
         "no ignore= action"),
        ("lint", "session [success=ok default=bad] pam_tokenseal.so\n", "no ignore= action"),
        ("lint", "<!-- pam-stack-counterexample -->\n`auth [default=die] pam_tokenseal.so`\n",
         None),
        ("lint", "auth [success=done ignore=ignore default=die] pam_tokenseal.so\n", None),
    ]
    failures = []
    for kind, text, want in cases:
        errors = []
        if kind == "lint":
            lint_controls("sample", text, errors)
            if want is None and errors:
                failures.append("a good line is refused: %s" % errors)
            elif want is not None and not any(want in e for e in errors):
                failures.append("%r is not caught (errors: %s)" % (text, errors))
            continue
        fn = extract_md if kind == "md" else extract_man
        stacks = fn("sample", text, errors)
        if want is None:
            if errors or len(stacks) != 1 or stacks[0].lines != ["auth required pam_tokenseal.so"]:
                failures.append("a good %s sample is not read as one stack: %s" % (kind, errors))
        elif not any(want in e for e in errors):
            failures.append("a %s sample with %r is not caught (errors: %s)" % (kind, want, errors))
    return failures


def cmd_check(args):
    failures = selftest()
    for f in failures:
        print("selftest: " + f)
    stacks, errors = extract(args.srcdir)
    for s in stacks:
        print("%s: %s" % (s.name(), " ".join("%s=%s" % kv for kv in sorted(s.fields.items()))))
        for line in s.lines:
            print("    " + line)
    for e in errors:
        print("error: " + e)
    files = {s.path for s in stacks}
    for must in ("docs/pam.md", "docs/man/pam_tokenseal.8"):
        if must not in files:
            errors.append("no marked stack found in %s" % must)
            print("error: no marked stack found in %s" % must)
    if failures or errors:
        return 1
    print("%d stacks, every one marked" % len(stacks))
    return 0


# ---- running them --------------------------------------------------------

def system_module(name):
    for d in ("/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
              "/lib64/security", "/usr/lib64/security", "/lib/security"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def transform(line, a, conf, passdb, svcdir):
    """One stack line, with the built module and pam_matrix for pam_unix.
    An include names the file in svcdir by its full path: libpam (under
    pam_wrapper too) resolves a bare include name in the host's /etc/pam.d."""
    parts = line.split()
    if parts[0] == "@include" or (len(parts) >= 3 and parts[1] in ("include", "substack")):
        target = parts[-1]
        if "/" not in target:
            if not os.path.exists(os.path.join(svcdir, target)):
                raise SystemExit("the stack includes %s, which the test does not provide"
                                 % target)
            return line[:line.rindex(target)] + os.path.join(svcdir, target)
        return line
    # the module is the first word after the control (a [..] may hold blanks)
    m = re.match(r"^(\S+\s+(?:\[[^]]*\]|\S+)\s+)(\S+)(.*)$", line)
    if not m:
        raise SystemExit("cannot read the stack line %r" % line)
    head, mod, rest = m.groups()
    base = os.path.basename(mod)
    if base == "pam_tokenseal.so":
        return "%s%s config=%s debug%s" % (head, a.module, conf, rest)
    if base == "pam_unix.so":
        return "%s%s passdb=%s" % (head, a.pam_matrix, passdb)
    if "/" not in mod:
        full = system_module(mod)
        if not full:
            raise SystemExit("SKIPPED-MODULE %s" % mod)
        return head + full + rest
    return line


def pam_auth_update(work, profile_src, with_tokenseal):
    """common-* as pam-auth-update writes them: its own unix profile (plus
    the shipped tokenseal profile) under --root, with a debconf database of
    its own (the host's /etc and debconf are never touched)."""
    root = tempfile.mkdtemp(prefix="pau.", dir=work)
    for d in ("usr/share/pam-configs", "etc/pam.d", "var/lib/pam", "debconf"):
        os.makedirs(os.path.join(root, d))
    shutil.copy("/usr/share/pam-configs/unix", os.path.join(root, "usr/share/pam-configs"))
    names = ["unix"]
    if with_tokenseal:
        shutil.copy(profile_src, os.path.join(root, "usr/share/pam-configs", "tokenseal"))
        names.append("tokenseal")
    rc = os.path.join(root, "debconf.conf")
    with open(rc, "w") as f:
        f.write("Config: configdb\nTemplates: templatedb\n\n"
                "Name: configdb\nDriver: File\nMode: 644\nFilename: %s/debconf/config.dat\n\n"
                "Name: templatedb\nDriver: File\nMode: 644\nFilename: %s/debconf/templates.dat\n"
                % (root, root))
    env = dict(os.environ, DEBCONF_SYSTEMRC=rc, DEBIAN_FRONTEND="noninteractive")
    env.pop("LD_PRELOAD", None)
    subprocess.run(["pam-auth-update", "--root", root, "--force", "--enable"] + names,
                   env=env, check=True, stdin=subprocess.DEVNULL)
    out = {}
    for t in ("auth", "account", "session", "session-noninteractive"):
        with open(os.path.join(root, "etc/pam.d", "common-" + t)) as f:
            out[t] = [l.rstrip("\n") for l in f
                      if l.strip() and not l.lstrip().startswith("#")]
    return out


def write_service_dir(d, a, service, lines, common):
    os.makedirs(os.path.join(d, "services"))
    conf = os.path.join(d, "tokenseal.conf")
    passdb = os.path.join(d, "passdb")
    with open(passdb, "w") as f:
        for svc in (service, "ts-seed"):
            f.write("root:root-mx-pw:%s\nnobody:nobody-mx-pw:%s\ncarol:carol-mx-pw:%s\n"
                    "alice:alice-mx-pw-she-does-not-know:%s\n" % (svc, svc, svc, svc))
    os.chmod(passdb, 0o600)
    svcdir = os.path.join(d, "services")
    for t, tl in common.items():
        with open(os.path.join(svcdir, "common-" + t), "w") as f:
            f.write("".join(transform(l, a, conf, passdb, svcdir) + "\n" for l in tl))
    with open(os.path.join(svcdir, service), "w") as f:
        f.write("".join(transform(l, a, conf, passdb, svcdir) + "\n" for l in lines))
    # libpam falls back to "other" for a service it cannot read
    with open(os.path.join(svcdir, "other"), "w") as f:
        f.write("".join("%s required %s\n" % (t, system_module("pam_deny.so"))
                        for t in ("auth", "account", "session", "password")))
    with open(os.path.join(svcdir, "ts-seed"), "w") as f:
        f.write("auth required %s config=%s debug\n" % (a.module, conf))
    return conf


def cmd_run(args):
    stacks, errors = extract(args.srcdir)
    if errors:
        for e in errors:
            print("error: " + e)
        return 1
    if os.geteuid() != 0:
        print("SKIPPED: needs root (the broker acts for alice and carol)")
        return SKIP
    if not shutil.which("pam-auth-update") or not os.path.exists("/usr/share/pam-configs/unix"):
        print("SKIPPED: needs pam-auth-update and /usr/share/pam-configs/unix (Debian's "
              "libpam-runtime) to build common-* as a host has them")
        return SKIP
    if os.path.exists(args.work):
        shutil.rmtree(args.work)
    os.makedirs(args.work)
    base = pam_auth_update(args.work, None, False)
    prof = pam_auth_update(args.work, os.path.join(args.srcdir, "packaging/pam-configs/tokenseal"),
                           True)
    if not any("pam_tokenseal.so" in l for t in prof.values() for l in t):
        print("error: pam-auth-update did not put pam_tokenseal.so in common-*")
        return 1
    runs = []
    for s in stacks:
        runs.append((s.name(), s.fields, s.lines, base))
    # the shipped profile, the way Debian's sshd and login include it
    for svc in ("sshd", "login"):
        runs.append(("packaging/pam-configs/tokenseal (pam-auth-update, %s)" % svc,
                     {"service": svc, "root": "password", "carol": "password",
                      "alice": "device"},
                     ["@include common-auth", "@include common-account",
                      "@include common-session"], prof))
    failed, skipped = [], 0
    for i, (name, fields, lines, common) in enumerate(runs):
        d = os.path.join(args.work, "stack%02d" % i)
        svc = fields["service"]
        conf = write_service_dir(d, args, svc, lines, common)
        print("=== %s (service %s)" % (name, svc))
        with open(os.path.join(d, "services", svc)) as f:
            sys.stdout.write(f.read())
        for t in ("auth", "account", "session", "session-noninteractive"):
            if any(l.endswith("include common-" + t) or l.endswith(" common-" + t)
                   for l in lines):
                print("  common-%s:" % t)
                with open(os.path.join(d, "services", "common-" + t)) as f:
                    for l in f:
                        print("    " + l.rstrip())
        sys.stdout.flush()
        promises = " ".join("%s=%s" % (k, fields[k]) for k in ("root", "carol", "alice"))
        env = dict(os.environ, LD_PRELOAD=args.pam_wrapper, PAM_WRAPPER="1",
                   PAM_WRAPPER_SERVICE_DIR=os.path.join(d, "services"),
                   PAM_WRAPPER_DEBUGLEVEL="2", TS_DOC_STACK_CONF=conf)
        r = subprocess.run([args.test, args.broker, svc, promises, SERVICES[svc]], env=env,
                           cwd=d, stdin=subprocess.DEVNULL)
        if r.returncode == SKIP:
            skipped += 1
        elif r.returncode != 0:
            failed.append(name)
    if failed:
        print("FAILED stacks (the text does not hold): " + "; ".join(failed))
        return 1
    if skipped == len(runs):
        print("SKIPPED: every stack run skipped (see above)")
        return SKIP
    if skipped:
        print("error: %d of %d stack runs skipped" % (skipped, len(runs)))
        return 1
    print("%d documented stacks and the profile hold what their text says" % (len(runs) - 2))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("srcdir")
    r = sub.add_parser("run")
    r.add_argument("srcdir")
    for opt in ("work", "module", "broker", "test", "pam_wrapper", "pam_matrix"):
        r.add_argument("--" + opt.replace("_", "-"), dest=opt, required=True)
    a = p.parse_args()
    return cmd_check(a) if a.cmd == "check" else cmd_run(a)


if __name__ == "__main__":
    sys.exit(main())
