#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keep the documentation true (CTest label `docs`, tests/docs/CMakeLists.txt).

  docscheck.py config-keys KEYLIST_PROGRAM MANPAGE
      Every key in the parser's own table (printed by KEYLIST_PROGRAM, which
      walks ts_config_key_name()/ts_config_key_scope()) has an entry in
      tokenseal.conf(5), every entry there is a key the parser accepts, and the
      page states the scope of every key that is not allowed everywhere.
  docscheck.py messages SOURCE_DIR DOC [--list]
      Every user-visible message format found in the sources (see
      extract_messages) appears verbatim in DOC, each printf conversion written
      as a placeholder <like-this>. --list prints what was extracted.
  docscheck.py cli TOKENSEAL MANPAGE
      Every verb that `TOKENSEAL --help` lists and every option that
      `TOKENSEAL --help` and `TOKENSEAL VERB --help` list appear in MANPAGE.
  docscheck.py manlint MANPAGE...
      mandoc -Tlint (warnings and worse) and groff -ww -z -man report nothing.

  docscheck.py selftest KEYLIST_PROGRAM SOURCE_DIR
      Each check above fails on a broken copy (a key entry renamed, a message
      changed, a fake CLI with an undocumented verb and option, a page with an
      unknown macro) and names exactly what is missing.

Each check prints exactly what is missing and exits 1; 77 means SKIPPED.

The message extractor is bounded on purpose. It tokenises C (comments,
preprocessor lines and string escapes handled; adjacent literals and string
#defines concatenated) and takes the format argument of these calls only:
  eng_set_msg(o, code, state, FMT, ...)        broker/*.c, the RESULT message
  eng_mark_needs_login(e, req, l, cur, gen, R) the needs-login reason
  oauth_fail(err, code, FMT, ...)              oauth/*.c, err->message
  snprintf/vsnprintf(DEST, len, FMT, ...)      DEST naming message, msg or text
  pam_prompt(pamh, style, resp, FMT, ...), pam_error/pam_info(pamh, FMT, ...)
  fprintf(stderr, FMT, ...), fputs(TEXT, stderr)
  return "TEXT"; in common/ts_error.c          the ts_strerror() table
  cli/*.c: every literal argument of calls named *_err, *_warn, *_fail,
  *_die, *_msg, *_say, *_note, *_info, *_usage, *_doctor_line and the like.
A FMT that is a ternary contributes its literal branches. Not followed: a
format held in a variable, literals passed as ordinary (non-format)
arguments, and strings returned by helper functions; such text is documented
by hand. Each format is split at newlines; a line with fewer than three
letters outside its conversions ("%s: %s") has no text of its own and is
skipped. A printf conversion (%s, %.300s, %u, %lld, %zu, %04o, ...) must be
written in the document as a placeholder <like-this>.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

SKIP = 77

# ---- C source scanning ---------------------------------------------------------

TOKEN_RE = re.compile(r'''
      (?P<comment>/\*.*?\*/|//[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<char>'(?:[^'\\\n]|\\.)*')
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>[0-9][A-Za-z0-9_.]*)
    | (?P<arrow>->)
    | (?P<punct>[^\sA-Za-z0-9_])
    | (?P<space>\s+)
''', re.S | re.X)

ESCAPES = {'n': '\n', 't': '\t', '"': '"', '\\': '\\', "'": "'", '?': '?', 'r': '\r',
           'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v'}


def unescape(lit):
    out, i, body = [], 0, lit[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == '\\' and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in ESCAPES:
                out.append(ESCAPES[nxt])
                i += 2
                continue
            m = re.match(r'[0-7]{1,3}', body[i + 1:])
            if m:
                out.append(chr(int(m.group(0), 8)))
                i += 1 + len(m.group(0))
                continue
        out.append(ch)
        i += 1
    return ''.join(out)


def tokenize(text):
    """(kind, value, line) tokens; comments, preprocessor lines and blanks dropped."""
    # preprocessor lines (with continuations) are not code
    text = re.sub(r'(?m)^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', lambda m: '\n' * m.group(0).count('\n'), text)
    toks, line = [], 1
    for m in TOKEN_RE.finditer(text):
        kind = m.lastgroup
        val = m.group(0)
        if kind not in ('comment', 'space'):
            toks.append((kind, val, line))
        line += val.count('\n')
    return toks


def string_macros(paths):
    """#define NAME "literal" ["literal"...] from headers and sources."""
    macros = {}
    pat = re.compile(r'(?m)^[ \t]*#[ \t]*define[ \t]+([A-Z_][A-Z0-9_]*)[ \t]+((?:"(?:[^"\\\n]|\\.)*"[ \t]*)+)$')
    for p in paths:
        with open(p, encoding='utf-8', errors='replace') as f:
            for m in pat.finditer(re.sub(r'[ \t]*\\\n[ \t]*', ' ', f.read())):
                macros[m.group(1)] = ''.join(unescape(s) for s in re.findall(r'"(?:[^"\\\n]|\\.)*"', m.group(2)))
    return macros


def split_args(toks, i):
    """toks[i] is '('; returns (list of argument token lists, index after ')')."""
    depth, args, cur = 0, [], []
    j = i
    while j < len(toks):
        kind, val, _ = toks[j]
        if val in '([{' and kind == 'punct':
            depth += 1
            if depth > 1:
                cur.append(toks[j])
        elif val in ')]}' and kind == 'punct':
            depth -= 1
            if depth == 0:
                args.append(cur)
                return args, j + 1
            cur.append(toks[j])
        elif val == ',' and depth == 1:
            args.append(cur)
            cur = []
        else:
            cur.append(toks[j])
        j += 1
    return args, j


def literal_of(arg, macros):
    """The texts an argument can have: a run of string literals and string
    macros, or a ternary (cond ? A : B) whose literal branches count; [] else."""
    if not arg:
        return []
    depth, q = 0, None
    for n, (kind, val, _) in enumerate(arg):
        if kind == 'punct' and val in '([{':
            depth += 1
        elif kind == 'punct' and val in ')]}':
            depth -= 1
        elif kind == 'punct' and val == '?' and depth == 0 and q is None:
            q = n
        elif kind == 'punct' and val == ':' and depth == 0 and q is not None:
            return literal_of(arg[q + 1:n], macros) + literal_of(arg[n + 1:], macros)
    if arg[0][1] == '(' and arg[-1][1] == ')':
        return literal_of(arg[1:-1], macros)
    parts = []
    for kind, val, _ in arg:
        if kind == 'string':
            parts.append(unescape(val))
        elif kind == 'ident' and val in macros:
            parts.append(macros[val])
        else:
            return []
    return [''.join(parts)]


# Which calls carry a user-visible message, and which argument is its format.
# The extractor is deliberately bounded: a format that is not a literal (a
# variable, a ternary) is not followed; such strings must come from one of
# the literal sites below.
MESSAGE_DEST = {'message', 'msg', 'text'}   # snprintf(<dest>, ...) buffers shown to people
CLI_FUNC_RE = re.compile(r'(^|_)(err|error|errx|warn|warning|warnx|fail|die|msg|say|note|info|usage|doctor_line)$')


def message_rules(path):
    """Yield (function-name predicate, format index, destination predicate) for a file."""
    base = os.path.basename(path)
    rel = path.replace('\\', '/')
    rules = [
        (lambda n: n == 'eng_set_msg', 3, None),          # broker: the RESULT message
        (lambda n: n == 'oauth_fail', 2, None),           # oauth: err->message, shown as "(...)"
        (lambda n: n == 'eng_mark_needs_login', 5, None), # broker: the reason shown after "sign-in required: "
        (lambda n: n in ('snprintf', 'vsnprintf'), 2, 'dest'),
        (lambda n: n == 'pam_prompt', 3, None),           # pam_module: shown by the conversation
        (lambda n: n in ('pam_error', 'pam_info'), 1, None),
        (lambda n: n == 'fprintf', 1, 'stderr0'),         # programs: stderr
        (lambda n: n == 'fputs', 0, 'stderr1'),
    ]
    # the folder the file is in, not any folder of the checkout's path
    if os.path.basename(os.path.dirname(os.path.abspath(path))) == 'cli':
        rules.append((lambda n: bool(CLI_FUNC_RE.search(n)), -1, None))  # every literal argument
    return rules


def dest_ok(args, want):
    if want in ('stderr0', 'stderr1'):
        n = int(want[-1])
        return len(args) > n and [v for k, v, _ in args[n] if k == 'ident'] == ['stderr']
    idents = [v for k, v, _ in args[0] if k == 'ident']
    if want == 'dest':
        return bool(idents) and any(i in MESSAGE_DEST for i in idents)
    return True


def extract_file(path, macros):
    with open(path, encoding='utf-8', errors='replace') as f:
        toks = tokenize(f.read())
    found = []
    rules = message_rules(path)
    # ts_error.c: the ts_strerror() table is shown after "keystore problem: " etc.
    if os.path.basename(path) == 'ts_error.c':
        for i in range(len(toks) - 2):
            if toks[i][1] == 'return' and toks[i + 1][0] == 'string' and toks[i + 2][1] == ';':
                found.append((unescape(toks[i + 1][1]), toks[i + 1][2]))
    for i in range(len(toks) - 1):
        kind, name, line = toks[i]
        if kind != 'ident' or toks[i + 1][1] != '(':
            continue
        if i > 0 and toks[i - 1][1] in ('.', '->'):
            continue
        # a definition or a declaration is not a call
        if i > 0 and toks[i - 1][0] == 'ident' and toks[i - 1][1] not in ('return', 'else'):
            continue
        for pred, idx, dest in rules:
            if not pred(name):
                continue
            args, _ = split_args(toks, i + 1)
            if dest and not (args and dest_ok(args, dest)):
                continue
            if idx == -1:
                texts = [t for a in args for t in literal_of(a, macros)]
            else:
                texts = literal_of(args[idx], macros) if idx < len(args) else []
            found.extend((t, line) for t in texts)
            break
    return found


CONV_RE = re.compile(r'%(?:%|[-+ #0]*(?:\*|[0-9]+)?(?:\.(?:\*|[0-9]+))?(?:hh|h|ll|l|j|z|t|L)?[diouxXeEfgGcspn])')


def pieces(fmt):
    """A format split into the lines a person sees, with conversions kept."""
    out = []
    for line in fmt.split('\n'):
        line = ' '.join(line.split())
        if not line:
            continue
        letters = re.sub(r'[^A-Za-z]', '', CONV_RE.sub('', line))
        if len(letters) < 3:  # "%s: %s", "%s (%s)": no text of its own
            continue
        out.append(line)
    return out


def piece_regex(piece):
    """Regex for a piece: literal text, each conversion a <placeholder>."""
    rx, pos = [], 0
    for m in CONV_RE.finditer(piece):
        rx.append(re.escape(piece[pos:m.start()]).replace('\\ ', r'\s+'))
        rx.append('%' if m.group(0) == '%%' else r'<[^<>\n]{1,60}>')
        pos = m.end()
    rx.append(re.escape(piece[pos:]).replace('\\ ', r'\s+'))
    return re.compile(''.join(rx))


def message_sources(top):
    files = []
    for pat in ('broker/*.c', 'oauth/*.c', 'pam_module/*.c', 'common/ts_error.c',
                'common/ts_client.c', 'cli/*.c'):
        files.extend(sorted(glob.glob(os.path.join(top, pat))))
    return files


def cmd_messages(top, doc, listing=False):
    headers = []
    for pat in ('broker/*.[ch]', 'oauth/*.[ch]', 'common/*.[ch]', 'pam_module/*.[ch]', 'cli/*.[ch]'):
        headers.extend(glob.glob(os.path.join(top, pat)))
    macros = string_macros(headers)
    with open(doc, encoding='utf-8') as f:
        text = f.read().replace('\\|', '|')
    missing, seen, total = [], set(), 0
    for path in message_sources(top):
        rel = os.path.relpath(path, top)
        for fmt, line in extract_file(path, macros):
            for piece in pieces(fmt):
                if piece in seen:
                    continue
                seen.add(piece)
                total += 1
                if listing:
                    print(f'{rel}:{line}: {piece}')
                    continue
                if not piece_regex(piece).search(text):
                    missing.append(f'{rel}:{line}: {piece}')
    if listing:
        return 0
    if total == 0:
        print('no messages extracted: the extractor is broken', file=sys.stderr)
        return 1
    if missing:
        print(f'{len(missing)} of {total} user-visible messages are not in {doc} '
              '(write each verbatim, every printf conversion as a <placeholder>):')
        for m in missing:
            print('  ' + m)
        return 1
    print(f'all {total} user-visible messages appear in {os.path.basename(doc)}')
    return 0


# ---- man pages -----------------------------------------------------------------

def man_entries(page):
    """Key entries of tokenseal.conf(5): the first word of each .TP tag line set
    with .B/.BR, with the entry's text and its section's introduction."""
    with open(page, encoding='utf-8') as f:
        lines = f.read().split('\n')
    entries, intro, in_keys = {}, '', False
    cur = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith('.SH'):
            in_keys = ln.split(None, 1)[1:] != [] and ln.split(None, 1)[1].strip('"') in ('KEYS', 'NSS CACHE')
            intro, cur = '', None
        elif ln.startswith('.SS'):
            intro, cur = '', None
        elif in_keys and ln.startswith('.TP') and i + 1 < len(lines):
            tag = lines[i + 1]
            m = re.match(r'\.BR?\s+([a-z_][a-z0-9_]*)\b', tag)
            if m:
                cur = m.group(1)
                entries[cur] = {'text': '', 'intro': intro}
                i += 2
                continue
            cur = None
        elif in_keys:
            if cur:
                entries[cur]['text'] += ln + '\n'
            else:
                intro += ln + '\n'
        i += 1
    return entries


def flat(roff):
    s = re.sub(r'\\f[BIRP]', '', roff)
    s = re.sub(r'(?m)^\.[A-Za-z]+\s?', '', s)
    return ' '.join(s.replace('"', '').split()).lower()


SCOPE_WORDS = {'top': 'top level only', 'service': 'per service only'}


def cmd_config_keys(prog, page):
    out = subprocess.run([prog], capture_output=True, text=True, check=True).stdout
    table = {}
    for ln in out.splitlines():
        name, scope = ln.split()
        table[name] = scope
    if len(table) < 10:
        print(f'{prog} listed only {len(table)} keys: the key table accessor is broken')
        return 1
    entries = man_entries(page)
    problems = []
    for k in sorted(set(table) - set(entries)):
        problems.append(f'key {k} is accepted by the parser but has no entry in {page}')
    for k in sorted(set(entries) - set(table)):
        problems.append(f'{page} documents key {k}, which the parser does not accept')
    for k, scope in sorted(table.items()):
        if k not in entries:
            continue
        body = flat(entries[k]['text'])
        if 'default' not in body:
            problems.append(f'key {k}: its entry states no default ("default: ..." or "no default")')
        if not re.search(r'example: ' + re.escape(k) + r' = \S', body):
            problems.append(f'key {k}: its entry has no example line ("Example:" then "{k} = VALUE")')
        said = flat(entries[k]['text']) + ' ' + flat(entries[k]['intro'])
        for sc, words in SCOPE_WORDS.items():
            if sc == scope and words not in said:
                problems.append(f'key {k} may be set {words.replace(" only", "")} only, '
                                f'but its entry (or its section\'s introduction) does not say "{words}"')
            if sc != scope and words in flat(entries[k]['text']):
                problems.append(f'key {k} has scope "{scope}", but its entry says "{words}"')
    if problems:
        print('\n'.join(problems))
        return 1
    print(f'all {len(table)} keys documented, scopes stated, nothing extra')
    return 0


def help_of(prog, args):
    r = subprocess.run([prog] + args + ['--help'], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, NO_COLOR='1', TOKENSEAL_NONINTERACTIVE='1'))
    return r.stdout + r.stderr


def cmd_cli(prog, page):
    with open(page, encoding='utf-8') as f:
        man = f.read()
    man_plain = re.sub(r'\\f[BIRP]|\\&', '', man).replace('\\-', '-')
    top = help_of(prog, [])
    # verbs: the first word of the lines indented by 2 to 4 spaces
    # ("  status [--json]   show ..."); deeper lines continue a description
    def listed(text):
        out = []
        for ln in text.splitlines():
            m = re.match(r'^ {2,4}([a-z][a-z0-9-]*)(?![\w-])', ln)
            if m and m.group(1) not in out:
                out.append(m.group(1))
        return out
    verbs = listed(top)
    if not verbs:
        print(f'`{prog} --help` lists no verbs; cannot check {page}')
        return 1
    problems = []
    opt_re = r'(?<![\w-])(--[a-z][a-z0-9-]*)'
    opts_of = {None: set(re.findall(opt_re, top))}
    def in_man(word):
        return re.search(r'(?<![\w-])' + re.escape(word) + r'(?![\w-])', man_plain)
    for v in verbs:
        h = help_of(prog, [v])
        opts_of[v] = set(re.findall(opt_re, h))
        # sub-verbs: "keystore init | verify | ..." in either text, and the
        # lines a verb's own help lists ("  init   create the keystore")
        subs = listed(h)
        for alts in re.findall(r'(?m)\b' + re.escape(v) + r' +([a-z][a-z-]*(?: *\| *[a-z][a-z-]*)+)', top + h):
            subs += [x.strip() for x in alts.split('|')]
        for sub in dict.fromkeys(subs):
            if not in_man(sub):
                problems.append(f'sub-verb "{v} {sub}" (from `tokenseal {v} --help`) is not in {page}')
    for v in verbs:
        if not in_man(v):
            problems.append(f'verb "{v}" (from `tokenseal --help`) is not in {page}')
    for v, opts in opts_of.items():
        for o in sorted(opts):
            if o not in man_plain:
                where = f'`tokenseal {v} --help`' if v else '`tokenseal --help`'
                problems.append(f'option {o} (from {where}) is not in {page}')
    if problems:
        print('\n'.join(sorted(set(problems))))
        return 1
    print(f'{len(verbs)} verbs and their options are in {os.path.basename(page)}')
    return 0


def cmd_manlint(pages):
    tools = [t for t in ('mandoc', 'groff') if shutil.which(t)]
    if not tools:
        print('SKIPPED: neither mandoc nor groff is installed (scripts/test installs mandoc)')
        return SKIP
    bad = []
    for p in pages:
        if 'mandoc' in tools:
            r = subprocess.run(['mandoc', '-Tlint', '-Wwarning', p], capture_output=True, text=True)
            for ln in (r.stdout + r.stderr).splitlines():
                bad.append(ln)
            if r.returncode not in (0,) and not (r.stdout + r.stderr).strip():
                bad.append(f'mandoc: {p}: exit {r.returncode}')
        if 'groff' in tools:
            r = subprocess.run(['groff', '-ww', '-z', '-man', p], capture_output=True, text=True)
            for ln in r.stderr.splitlines():
                bad.append(f'groff: {p}: {ln}')
    if bad:
        print('\n'.join(bad))
        return 1
    print(f'{len(pages)} man pages lint clean ({", ".join(tools)})')
    return 0


def cmd_selftest(keylister, top):
    """Each check must fail on a broken copy and name exactly what is missing."""
    import contextlib
    import io
    import tempfile
    failures = []

    def run(fn, *a):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = fn(*a)
        return rc, buf.getvalue()

    def expect(name, rc, out, want_rc, needles):
        if rc != want_rc or any(n not in out for n in needles):
            failures.append(f'{name}: exit {rc} (wanted {want_rc}), output lacks one of {needles}:\n{out}')

    with tempfile.TemporaryDirectory() as d:
        page = os.path.join(top, 'docs/man/tokenseal.conf.5')
        with open(page, encoding='utf-8') as f:
            man = f.read()
        bad = os.path.join(d, 'tokenseal.conf.5')
        with open(bad, 'w', encoding='utf-8') as f:
            f.write(man.replace('.TP\n.B revalidate_cache\n', '.TP\n.B revalidate_cachex\n', 1)
                       .replace('Top level only.', '', 1)
                       .replace('Example:\n.B "http_timeout = 20"', '', 1))
        rc, out = run(cmd_config_keys, keylister, bad)
        expect('config-keys', rc, out, 1, [
            'key revalidate_cache is accepted by the parser but has no entry',
            'documents key revalidate_cachex, which the parser does not accept',
            'does not say "top level only"', 'key http_timeout: its entry has no example line'])
        rc, out = run(cmd_config_keys, keylister, page)
        expect('config-keys (real page)', rc, out, 0, ['keys documented'])

        doc = os.path.join(top, 'docs/troubleshooting.md')
        with open(doc, encoding='utf-8') as f:
            text = f.read()
        bad = os.path.join(d, 'troubleshooting.md')
        with open(bad, 'w', encoding='utf-8') as f:
            f.write(text.replace('keystore problem: <', 'keystore trouble: <'))
        rc, out = run(cmd_messages, top, bad)
        expect('messages', rc, out, 1, ['keystore problem: %s'])

        fake = os.path.join(d, 'tokenseal')
        with open(fake, 'w', encoding='utf-8') as f:
            f.write('#!/bin/sh\n'
                    'case "$1" in\n'
                    '--help) printf "usage: tokenseal VERB\\n  status [--json]   show\\n  frobnicate   x\\n"; exit 0;;\n'
                    'status) printf "usage: tokenseal status [--json] [--user NAME]\\n"; exit 0;;\n'
                    'frobnicate) printf "usage: tokenseal frobnicate [--wibble]\\n"; exit 0;;\n'
                    'esac\nexit 2\n')
        os.chmod(fake, 0o755)
        man1 = os.path.join(d, 'tokenseal.1')
        with open(man1, 'w', encoding='utf-8') as f:
            f.write('.TH TOKENSEAL 1\n.SH COMMANDS\n.TP\n.B status\n.RB [ \\-\\-json ]\n')
        rc, out = run(cmd_cli, fake, man1)
        expect('cli', rc, out, 1, ['verb "frobnicate"', 'option --wibble', 'option --user'])

        bad = os.path.join(d, 'bad.8')
        with open(bad, 'w', encoding='utf-8') as f:
            f.write('.TH BAD 8\n.SH NAME\nbad \\- bad\n.SH DESCRIPTION\n.XYZZY text\n')
        rc, out = run(cmd_manlint, [bad])
        if rc != SKIP:
            expect('manlint', rc, out, 1, ['XYZZY'])
    if failures:
        print('\n'.join(failures))
        return 1
    print('each check fails on a broken copy and names what is missing')
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == 'config-keys' and len(args) == 2:
        return cmd_config_keys(*args)
    if cmd == 'messages' and len(args) in (2, 3):
        return cmd_messages(args[0], args[1], listing='--list' in args[2:])
    if cmd == 'cli' and len(args) == 2:
        return cmd_cli(*args)
    if cmd == 'selftest' and len(args) == 2:
        return cmd_selftest(*args)
    if cmd == 'manlint' and args:
        return cmd_manlint(args)
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
