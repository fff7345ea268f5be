#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keep the guides true (CTest label `docs`, tests/docs/CMakeLists.txt).

  pagescheck.py check TOP KEYS_PROGRAM TOKENSEAL
      Over README.md and every docs/**/*.md page:
      1. links: every relative link names a file that exists, and a
         "#fragment" names a heading of that page (GitHub's anchors);
      2. reach: every page is reachable by links from README.md (a guide
         nobody can find is as good as missing);
      3. configuration: every code block that is a tokenseal.conf snippet
         (only "key = value", "[service NAME]" and comment lines) loads with
         the real parser (KEYS_PROGRAM --parse, tests/docs/config_keys.c):
         no unknown key, no key outside its scope, no bad value; a snippet
         that sets issuer and client_id must also be usable (--validate);
      4. commands: every "tokenseal VERB ..." line of a code block names a
         verb that `TOKENSEAL --help` lists, and its options are ones that
         `TOKENSEAL --help` or `TOKENSEAL VERB --help` list.
  pagescheck.py selftest TOP KEYS_PROGRAM TOKENSEAL
      Each check fails on a broken copy (a dead link, a dead anchor, an
      unreachable page, a snippet with an unknown key, an unknown verb and
      option) and names exactly what is wrong.

Each check prints what is wrong (FILE:LINE: ...) and exits 1.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LINK_RE = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')
CONF_LINE_RE = re.compile(r'^(?:[a-z][a-z0-9_]*\s*=.*|\[service [a-z0-9_.-]+\]|#.*)$')
CONF_KEY_RE = re.compile(r'^[a-z][a-z0-9_]*\s*=')


def pages_of(top):
    out = [os.path.join(top, 'README.md')]
    for d, _, files in os.walk(os.path.join(top, 'docs')):
        out += [os.path.join(d, f) for f in sorted(files) if f.endswith('.md')]
    return sorted(os.path.abspath(p) for p in out if os.path.isfile(p))


def slug(heading):
    """GitHub's anchor for a heading."""
    h = re.sub(r'[`*]', '', heading.strip().lower())
    h = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', h)
    h = re.sub(r'[^\w\- ]', '', h)
    return h.replace(' ', '-')


def strip_fences(text):
    """The page without its code (fenced blocks, indented blocks, `spans`),
    line numbers kept, for the link check."""
    out, fenced = [], False
    for ln in text.split('\n'):
        if ln.lstrip().startswith('```'):
            fenced = not fenced
            out.append('')
        elif fenced or ln.startswith('    ') and not ln.lstrip()[:2] in ('- ', '* ', '| '):
            out.append('')
        else:
            out.append(re.sub(r'`[^`]*`', '', ln))
    return out


def anchors_of(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    seen, out = {}, set()
    fenced = False
    for ln in text.split('\n'):
        if ln.lstrip().startswith('```'):
            fenced = not fenced
        m = None if fenced else re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', ln)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f'{s}-{n}')
    return out


def blocks_of(text):
    """Code blocks as (first line number, [lines]): fenced, and indented by
    four spaces after a blank line (not a list item's continuation)."""
    lines = text.split('\n')
    out, i = [], 0
    while i < len(lines):
        ln = lines[i]
        if ln.lstrip().startswith('```'):
            ind = len(ln) - len(ln.lstrip())
            j = i + 1
            body = []
            while j < len(lines) and not lines[j].lstrip().startswith('```'):
                body.append(lines[j][ind:] if lines[j][:ind].strip() == '' else lines[j])
                j += 1
            out.append((i + 2, body))
            i = j + 1
            continue
        if ln.startswith('    ') and ln.strip() and (i == 0 or not lines[i - 1].strip()):
            j = i
            body = []
            while j < len(lines) and (lines[j].startswith('    ') or not lines[j].strip()):
                body.append(lines[j][4:])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            out.append((i + 1, body))
            i = j
            continue
        i += 1
    return out


def check_links(top, pages):
    problems, graph = [], {}
    for p in pages:
        with open(p, encoding='utf-8') as f:
            text = f.read()
        graph[p] = set()
        for no, ln in enumerate(strip_fences(text), 1):
            for target in LINK_RE.findall(ln):
                if re.match(r'^[a-z][a-z0-9+.-]*:', target):
                    continue  # https:, mailto:
                path, _, frag = target.partition('#')
                dest = os.path.abspath(os.path.join(os.path.dirname(p), path)) if path else p
                where = f'{os.path.relpath(p, top)}:{no}'
                if not os.path.exists(dest):
                    problems.append(f'{where}: link "{target}": {os.path.relpath(dest, top)} does not exist')
                    continue
                if dest.endswith('.md'):
                    graph[p].add(dest)
                    if frag and frag not in anchors_of(dest):
                        problems.append(f'{where}: link "{target}": {os.path.relpath(dest, top)} '
                                        f'has no heading with the anchor "#{frag}"')
    readme = os.path.abspath(os.path.join(top, 'README.md'))
    seen, todo = {readme}, [readme]
    while todo:
        for q in graph.get(todo.pop(), ()):
            if q not in seen:
                seen.add(q)
                todo.append(q)
    for p in pages:
        if p not in seen:
            problems.append(f'{os.path.relpath(p, top)}: no link leads to this page from README.md')
    return problems


def is_conf_block(body):
    lines = [ln.strip() for ln in body if ln.strip()]
    return (lines and all(CONF_LINE_RE.match(ln) for ln in lines)
            and any(CONF_KEY_RE.match(ln) for ln in lines))


def check_config(top, pages, keys_prog):
    problems, n = [], 0
    with tempfile.TemporaryDirectory() as d:
        for p in pages:
            with open(p, encoding='utf-8') as f:
                text = f.read()
            for no, body in blocks_of(text):
                if not is_conf_block(body):
                    continue
                n += 1
                conf = os.path.join(d, 'snippet.conf')
                with open(conf, 'w', encoding='utf-8') as f:
                    f.write('\n'.join(ln.strip() for ln in body) + '\n')
                keys = {re.split(r'\s*=', ln.strip(), 1)[0] for ln in body if CONF_KEY_RE.match(ln.strip())}
                args = [keys_prog, '--parse', conf]
                if {'issuer', 'client_id'} <= keys:
                    args.append('--validate')
                r = subprocess.run(args, capture_output=True, text=True, timeout=30)
                if r.returncode != 0:
                    said = []
                    for ln in (r.stdout + r.stderr).splitlines():
                        m = re.match(re.escape(conf) + r':(\d+):\s*(.*)', ln)
                        ln = (f'line {no + int(m.group(1)) - 1}: {m.group(2)}' if m
                              else ln.replace(conf + ': ', ''))
                        if ln not in said:
                            said.append(ln)
                    for s in said or [f'exit {r.returncode}']:
                        problems.append(f'{os.path.relpath(p, top)}:{no}: configuration snippet: {s}')
    return problems, n


def help_of(prog, args):
    r = subprocess.run([prog] + args + ['--help'], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, NO_COLOR='1', TOKENSEAL_NONINTERACTIVE='1'))
    return r.stdout + r.stderr


def check_commands(top, pages, prog):
    problems, n = [], 0
    top_help = help_of(prog, [])
    verbs = set(re.findall(r'(?m)^ {2,4}([a-z][a-z0-9-]*)(?![\w-])', top_help))
    top_opts = set(re.findall(r'(?<![\w-])(--[a-z][a-z0-9-]*)', top_help))
    helps = {}
    for p in pages:
        with open(p, encoding='utf-8') as f:
            text = f.read()
        for no, body in blocks_of(text):
            for k, ln in enumerate(body):
                m = re.match(r'^\s*(?:[$#]\s+)?(?:sudo\s+)?tokenseal\s+(.*)$', ln)
                if not m:
                    continue
                words = m.group(1).split('#', 1)[0].split()
                if not words or words[0].startswith('<') or words[0].isupper():
                    continue
                n += 1
                where = f'{os.path.relpath(p, top)}:{no + k}'
                v = words[0]
                if v.startswith('--'):
                    if v not in top_opts:
                        problems.append(f'{where}: "tokenseal {v}": not an option `tokenseal --help` lists')
                    continue
                if v not in verbs:
                    problems.append(f'{where}: "tokenseal {v}": not a verb `tokenseal --help` lists')
                    continue
                if v not in helps:
                    helps[v] = help_of(prog, [v])
                opts = top_opts | set(re.findall(r'(?<![\w-])(--[a-z][a-z0-9-]*)', helps[v]))
                for w in words[1:]:
                    o = w.split('=', 1)[0]
                    if re.match(r'^--[a-z][a-z0-9-]*$', o) and o not in opts:
                        problems.append(f'{where}: "tokenseal {v} {o}": not an option '
                                        f'`tokenseal {v} --help` lists')
    return problems, n


def cmd_check(top, keys_prog, prog):
    pages = pages_of(top)
    problems = check_links(top, pages)
    p2, nconf = check_config(top, pages, keys_prog)
    p3, ncmd = check_commands(top, pages, prog)
    problems += p2 + p3
    if problems:
        print('\n'.join(problems))
        return 1
    print(f'{len(pages)} pages: links and anchors resolve, every page is reachable from README.md, '
          f'{nconf} configuration snippets load, {ncmd} tokenseal command lines use real verbs and options')
    return 0


def cmd_selftest(top, keys_prog, prog):
    import contextlib
    import io
    failures = []
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(os.path.join(top, 'README.md'), d)
        shutil.copytree(os.path.join(top, 'docs'), os.path.join(d, 'docs'))
        # the files outside docs/ that the pages link to
        for p in pages_of(top):
            with open(p, encoding='utf-8') as f:
                for target in LINK_RE.findall('\n'.join(strip_fences(f.read()))):
                    dest = os.path.abspath(os.path.join(os.path.dirname(p), target.partition('#')[0]))
                    rel = os.path.relpath(dest, os.path.abspath(top))
                    if (not rel.startswith(('docs' + os.sep, '..')) and os.path.isfile(dest)
                            and not os.path.exists(os.path.join(d, rel))):
                        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                        shutil.copy(dest, os.path.join(d, rel))
        qs = os.path.join(d, 'docs/quick-start.md')
        with open(qs, encoding='utf-8') as f:
            text = f.read()
        text += ('\nSee [the lost page](lost.md) and [keys](troubleshooting.md#no-such-heading-here).\n'
                 '\n    issuer = https://idp.example.org\n    client_id = x\n    revalidate_cachex = 30\n'
                 '\nAnd then:\n\n    tokenseal frobnicate\n    tokenseal status --wibble\n')
        with open(qs, 'w', encoding='utf-8') as f:
            f.write(text)
        with open(os.path.join(d, 'docs/orphan.md'), 'w', encoding='utf-8') as f:
            f.write('# Orphan\n\nNobody links here.\n')
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = cmd_check(d, keys_prog, prog)
        out = buf.getvalue()
        for needle in ['docs/lost.md does not exist', 'no heading with the anchor "#no-such-heading-here"',
                       'docs/orphan.md: no link leads to this page', "unknown key 'revalidate_cachex'",
                       '"tokenseal frobnicate": not a verb', '"tokenseal status --wibble": not an option']:
            if needle not in out:
                failures.append(f'the broken copy did not report: {needle}')
        if rc != 1:
            failures.append(f'the broken copy exited {rc}, not 1')
        if failures:
            failures.append('output was:\n' + out)
    if failures:
        print('\n'.join(failures))
        return 1
    print('each check fails on a broken copy and names what is wrong')
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == 'check':
        return cmd_check(*argv[2:])
    if len(argv) == 5 and argv[1] == 'selftest':
        return cmd_selftest(*argv[2:])
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
