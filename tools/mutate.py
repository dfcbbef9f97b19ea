#!/usr/bin/env python3
"""
tools/mutate.py — mutation testing of the allocator (issue 17).

Seeds single-token faults ("mutants") into alloc/*.c (libgalloc's malloc.c included) and
asks whether the test suite notices. Python 3.11, standard library only.

    python3 tools/mutate.py [--seed S] [--count N] [--files GLOB] [--list] [--only ID]
                            [--label smoke] [--ctest-args ARGS] [--json FILE]
                            [--min-score X] [--work DIR] [--equivalent FILE]
    python3 tools/mutate.py --selftest            # what ctest tools.mutate runs

Choosing mutants. Every source line of the files matching --files (default alloc/*.c,
sorted) is scanned with comments, string and character literals masked out; preprocessor
lines (and their continuations) and everything outside function bodies (file-scope
tables, struct definitions) are left alone. Each place an operator applies is one
candidate site. Each site gets a rank, sha256 of the seed and the site (file, the text of
its line, column, mutation), and the --count sites of lowest rank are the mutants,
numbered 1..N in rank order. So every site is equally likely, the same seed on the same
tree gives the same mutants, --count 10 is a prefix of --count 100, and since a rank does
not depend on line numbers or other sites, editing one function changes only the mutants
chosen in it (others move by line number only).

Operators (the name printed in the table):
    rel      <  -> <=,  <= -> <,  >  -> >=,  >= -> >,  == -> !=,  != -> ==
    arith    binary + <-> -,  * -> /,  / -> *,  += <-> -=,  ++ <-> --
    logic    && <-> ||
    bit      binary & -> |,  | -> &,  ^ -> &,  &= <-> |=,  ^= -> |=,  << <-> >>
    const    integer literal: 0 -> 1, 1 -> 0, n -> n+1 (suffix and base kept)
    not      a unary ! removed
    bool     true <-> false
    retbool  return x;  ->  return !(x);  in a function returning bool
    delete   an expression statement on a line of its own replaced by `;`
             (not a declaration, return, break, jump, nor the body of a braceless if)

Running them. The tree (the working tree of --root, or with --git REV that commit, exported
to <work>.src) is copied (incrementally, without .git and build dirs) into --work (default
/tmp/mut-work), configured once there (Release, Ninja, build/), built,
and the unmutated tree's tests must pass (the baseline; --no-baseline skips it). Then for
each mutant: the mutated file is written into the copy, `ninja -j2` rebuilds
incrementally, and `ctest -L <label> -j2 --stop-on-failure --timeout 120 <ctest-args>`
runs, quickest tests first (by the baseline's times; --costly-first keeps ctest's order) and
ended at the first failed test; the file is restored before the next one (and on any
exit). Outcomes:
    killed      it builds and ctest fails (a timeout counts as killed: a test's own TIMEOUT,
                or the whole run taking over --mutant-timeout, default 3x the baseline)
    survived    it builds and every test passes
    stillborn   it does not compile (excluded from the score)
    equivalent  listed in --equivalent (default tools/mutants-equivalent.txt), not run; or
                every object file compiled from the mutated source is byte-identical to
                the unmutated build's ("identical object code", e.g. code in an inactive
                #if branch), tests not run. Both are excluded from the score
score = killed / (killed + survived). The table is printed as mutants finish; --json
FILE is rewritten after each one (so a long run can be watched), with the logs of each
build and test run under <work>/logs/.

Known-equivalent mutants (tools/mutants-equivalent.txt), one a line:
    alloc/file.c:LINE:ORIGINAL->MUTATED  # reason
ORIGINAL and MUTATED are the whole source line before and after the mutation, stripped of
leading and trailing blanks (what --list and the survivors' summary print). An entry
matches a mutant by file and exact line texts; LINE is informational, so lines moving up
or down does not break the list. Blank lines and lines starting with # are comments.

Exit status: 0 the score is >= --min-score (default 0: just report; also --list),
1 below it (or no mutant scored while --min-score > 0), 2 usage error, 3 the run could not
be done (the baseline fails, configure fails, the work dir is in use, ...).
"""
import argparse
import fcntl
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXIT_OK, EXIT_LOW, EXIT_USAGE, EXIT_ENV = 0, 1, 2, 3

KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "_Alignas", "_Alignof",
    "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn", "_Static_assert",
    "_Thread_local", "__thread", "__attribute__", "__typeof__", "typeof", "asm", "__asm__",
}
TYPE_WORDS = {
    "char", "const", "double", "enum", "extern", "float", "int", "long", "register", "short",
    "signed", "static", "struct", "union", "unsigned", "void", "volatile", "_Atomic", "_Bool",
    "bool", "inline", "typedef", "__thread", "_Thread_local", "_Alignas", "size_t", "ssize_t",
    "uintptr_t", "intptr_t", "ptrdiff_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "int8_t", "int16_t", "int32_t", "int64_t", "off_t", "pid_t",
}
NOT_STATEMENT_START = KEYWORDS | TYPE_WORDS

TOKEN_RE = re.compile(r"""
    (?P<str>"\s*") | (?P<chr>'\s*') |
    (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?[fFlL]?|\d+[eE][+-]?\d+[fFlL]?) |
    (?P<int>0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*) |
    (?P<ident>[A-Za-z_]\w*) |
    (?P<punct><<=|>>=|\.\.\.|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\^=|\|=|\#\#|[-+*/%<>=!&|^~?:;,.(){}\[\]\#\\]) |
    (?P<space>\s+) |
    (?P<other>.)
""", re.X)

REL = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
ARITH_BIN = {"+": "-", "-": "+", "*": "/", "/": "*"}
ARITH_ANY = {"+=": "-=", "-=": "+=", "++": "--", "--": "++"}
LOGIC = {"&&": "||", "||": "&&"}
BIT_BIN = {"&": "|", "|": "&", "^": "&"}
BIT_ANY = {"&=": "|=", "|=": "&=", "^=": "|=", "<<": ">>", ">>": "<<"}
ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
OPERATORS = ["rel", "arith", "logic", "bit", "const", "not", "bool", "retbool", "delete"]


class UsageError(Exception):
    pass


class EnvError(Exception):
    pass


# ---------------------------------------------------------------- scanning a file

def mask_lines(text):
    """Per line: (masked, is_pp). masked has comments blanked and literal contents blanked
    (quotes kept), same length as the line. is_pp: a preprocessor line or continuation."""
    out = []
    in_block = False
    pp_cont = False
    for line in text.split("\n"):
        buf = []
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if in_block:
                if line.startswith("*/", i):
                    buf.append("  ")
                    i += 2
                    in_block = False
                else:
                    buf.append(" ")
                    i += 1
            elif line.startswith("/*", i):
                buf.append("  ")
                i += 2
                in_block = True
            elif line.startswith("//", i):
                buf.append(" " * (n - i))
                i = n
            elif c in "\"'":
                j = i + 1
                while j < n and line[j] != c:
                    j += 2 if line[j] == "\\" else 1
                j = min(j, n - 1)
                buf.append(c + " " * (j - i - 1) + (c if j > i else ""))
                i = j + 1
            else:
                buf.append(c)
                i += 1
        masked = "".join(buf)[:n].ljust(n)
        is_pp = pp_cont or masked.lstrip().startswith("#")
        pp_cont = is_pp and line.rstrip().endswith("\\")
        out.append((masked, is_pp))
    return out


def tokenize(masked):
    toks = []
    for m in TOKEN_RE.finditer(masked):
        kind = m.lastgroup
        if kind == "space":
            continue
        toks.append((kind, m.group(), m.start()))
    return toks


def is_operand_end(tok):
    kind, text, _ = tok
    if kind == "ident":
        return text not in KEYWORDS
    return kind in ("int", "float", "str", "chr") or text in (")", "]")


def is_operand_start(tok):
    kind, text, _ = tok
    if kind == "ident":
        return text not in KEYWORDS or text == "sizeof"
    return kind in ("int", "float", "str", "chr") or text in ("(", "~", "!")


def const_tweak(text):
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)", text)
    digits, suffix = m.group(1), m.group(2)
    if digits[:2] in ("0x", "0X"):
        v, base = int(digits, 16), 16
    elif len(digits) > 1 and digits[0] == "0":
        v, base = int(digits, 8), 8
    else:
        v, base = int(digits), 10
    nv = 1 if v == 0 else 0 if v == 1 else v + 1
    if base == 16:
        h = format(nv, "x")
        if any(ch in "ABCDEF" for ch in digits[2:]):
            h = h.upper()
        new = digits[:2] + h.zfill(len(digits) - 2)
    elif base == 8:
        new = "0" + format(nv, "o")
    else:
        new = str(nv)
    return new + suffix


class Candidate:
    __slots__ = ("file", "line", "col", "op", "orig_tok", "new_tok", "original", "mutated")

    def __init__(self, file, line, col, op, orig_tok, new_tok, original, mutated):
        self.file, self.line, self.col, self.op = file, line, col, op
        self.orig_tok, self.new_tok = orig_tok, new_tok
        self.original, self.mutated = original, mutated

    def key(self):
        return "%s:%d:%s->%s" % (self.file, self.line, self.original.strip(), self.mutated.strip())


def looks_like_declaration(toks):
    """Tokens of a statement: does it declare something (type then name)?"""
    if not toks:
        return False
    k0, t0, _ = toks[0]
    if k0 == "ident" and t0 in TYPE_WORDS:
        return True
    if t0 in KEYWORDS:
        return False                          # return x ..., case X ..., goto l
    if k0 == "ident" and len(toks) > 1:
        k1, t1, _ = toks[1]
        if k1 == "ident":
            return True                      # T x ...
        if t1 == "*":
            j = 1
            while j < len(toks) and toks[j][1] == "*":
                j += 1
            # T *x = / T *x; / T **x, ...: a declaration; a * b; is not worth a mutant
            return j < len(toks) and toks[j][0] == "ident"
    return False


def scan_file(relpath, text):
    """All candidate mutants of one file, in line and column order."""
    lines = text.split("\n")
    masked = mask_lines(text)
    cands = []
    depth = 0
    in_func = False
    func_is_bool = False
    header = []                       # depth-0 tokens since the last ; or }
    prev_code_end = ""                # last character of the previous code line
    for idx, (mline, is_pp) in enumerate(masked):
        line = lines[idx]
        lineno = idx + 1
        if is_pp:
            continue
        toks = tokenize(mline)
        if not toks:
            continue
        line_in_body = in_func and depth >= 1
        start_depth = depth
        body_flags = []
        for t in toks:
            _, text_, _ = t
            if text_ == "{":
                if depth == 0:
                    names = [x[1] for x in header]
                    # a function definition's header ends with its parameter list (or an
                    # attribute); struct/enum bodies and initializers do not
                    is_func = "(" in names and "=" not in names and names[-1:] == [")"]
                    if is_func:
                        in_func = True
                        func_is_bool = False
                        p = names.index("(")
                        if p >= 1 and "bool" in names[:p - 1] and names[p - 2] != "*":
                            func_is_bool = True
                    header = []
                depth += 1
                body_flags.append(False)
                continue
            if text_ == "}":
                depth = max(0, depth - 1)
                if depth == 0:
                    in_func = False
                    header = []
                body_flags.append(False)
                continue
            if depth == 0:
                if text_ == ";":
                    header = []
                else:
                    header.append(t)
            body_flags.append(in_func and depth >= 1)

        def add(col, op, orig_tok, new_tok, mutated_line):
            cands.append(Candidate(relpath, lineno, col, op, orig_tok, new_tok, line, mutated_line))

        def tok_mut(i, op, new):
            _, t, col = toks[i]
            add(col, op, t, new, line[:col] + new + line[col + len(t):])

        decl_line = looks_like_declaration(toks)
        for i, t in enumerate(toks):
            if not body_flags[i]:
                continue
            kind, text_, col = t
            prev = toks[i - 1] if i > 0 else None
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            binary = prev is not None and is_operand_end(prev) and nxt is not None and is_operand_start(nxt)
            if text_ in REL:
                tok_mut(i, "rel", REL[text_])
            elif text_ in ARITH_BIN and binary:
                if text_ == "*":
                    before = line[col - 1:col].isspace()
                    after = line[col + 1:col + 2].isspace()
                    if before != after or decl_line and i <= 2:
                        continue
                tok_mut(i, "arith", ARITH_BIN[text_])
            elif text_ in ARITH_ANY:
                tok_mut(i, "arith", ARITH_ANY[text_])
            elif text_ in LOGIC:
                tok_mut(i, "logic", LOGIC[text_])
            elif text_ in BIT_BIN and binary:
                tok_mut(i, "bit", BIT_BIN[text_])
            elif text_ in BIT_ANY:
                tok_mut(i, "bit", BIT_ANY[text_])
            elif kind == "int":
                if decl_line and prev is not None and prev[1] == "[" and nxt is not None and nxt[1] == "]":
                    continue                  # an array's size: nearly always equivalent
                tok_mut(i, "const", const_tweak(text_))
            elif text_ == "!":
                add(col, "not", "!", "", line[:col] + line[col + 1:])
            elif text_ in ("true", "false"):
                tok_mut(i, "bool", "false" if text_ == "true" else "true")

        # line-level operators: the whole line a statement inside a function body
        code = mline.strip()
        texts = [t[1] for t in toks]
        stmt = (line_in_body and start_depth >= 1 and depth == start_depth and code.endswith(";")
                and "{" not in texts and "}" not in texts
                and texts.count("(") == texts.count(")"))
        # a statement of its own: not the body of a braceless if/for/while, nor a continuation
        whole = stmt and prev_code_end in (";", "{", "}", ":")
        if stmt and texts[0] == "return" and func_is_bool and len(texts) > 2:
            expr_start = toks[1][2]
            expr_end = mline.rstrip().rfind(";")
            expr = line[expr_start:expr_end].rstrip()
            if expr not in ("true", "false"):
                add(expr_start, "retbool", expr, "!(%s)" % expr,
                    line[:expr_start] + "!(" + expr + ")" + line[expr_start + len(expr):])
        if whole and texts[0] not in NOT_STATEMENT_START and not decl_line and len(toks) >= 3:
            k0, t0, _ = toks[0]
            t1 = texts[1]
            expr_stmt = (k0 == "ident" and (t1 in ASSIGN_OPS or t1 in ("(", "->", ".", "[", "++", "--"))) \
                or t0 in ("*", "++", "--")
            if expr_stmt:
                indent = line[:len(line) - len(line.lstrip())]
                add(len(indent), "delete", line[:len(mline.rstrip())].strip(), ";", indent + ";")
        prev_code_end = code[-1:] if code else prev_code_end
    return cands


def list_files(root, patterns):
    files = set()
    for pat in patterns:
        for p in glob.glob(os.path.join(root, pat)):
            if os.path.isfile(p):
                files.add(os.path.relpath(p, root))
    return sorted(files)


def enumerate_candidates(root, patterns):
    cands = []
    for rel in list_files(root, patterns):
        with open(os.path.join(root, rel), encoding="utf-8", errors="surrogateescape") as f:
            cands.extend(scan_file(rel, f.read()))
    return cands


def choose(cands, seed, count):
    """The count candidates with the smallest sha256(seed, site): uniform over the sites,
    and a site's rank depends only on the file, the text of its line, the column and the
    mutation (plus which copy of an identical line it is), not on its line number nor on
    the other sites, so edits elsewhere in the tree leave the other choices alone."""
    seen = {}
    ranked = []
    for c in cands:
        ident = "\0".join((str(seed), c.file, c.original.strip(), c.op, c.orig_tok, c.new_tok,
                           str(c.col - (len(c.original) - len(c.original.lstrip())))))
        n = seen.get(ident, 0)
        seen[ident] = n + 1
        ranked.append((hashlib.sha256(("%s\0%d" % (ident, n)).encode("utf-8", "surrogateescape")).digest(), c))
    ranked.sort(key=lambda x: x[0])
    return [c for _, c in ranked[:count]]


def apply_mutant(text, c):
    lines = text.split("\n")
    if lines[c.line - 1] != c.original:
        raise EnvError("%s:%d changed since the mutants were chosen" % (c.file, c.line))
    lines[c.line - 1] = c.mutated
    return "\n".join(lines)


# ---------------------------------------------------------------- equivalents

def load_equivalents(path):
    """[(file, body, reason, lineno_in_list)]; body is 'LINE:ORIGINAL->MUTATED  # reason'."""
    entries = []
    if not path or not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            s = raw.rstrip("\n")
            if not s.strip() or s.lstrip().startswith("#"):
                continue
            m = re.match(r"([^:]+):(\d+):(.*)$", s)
            if not m:
                raise UsageError("%s:%d: not FILE:LINE:ORIGINAL->MUTATED  # reason" % (path, n))
            entries.append((m.group(1), m.group(3), n))
    return entries


def equivalence_reason(c, entries):
    """The reason if c is listed as equivalent, else None. The line texts are matched
    exactly; the separator '->' is found by trying the mutant's own texts (C code has ->)."""
    want = c.original.strip() + "->" + c.mutated.strip()
    for file, body, _ in entries:
        if file != c.file or not body.startswith(want):
            continue
        rest = body[len(want):]
        if rest.strip() == "":
            return "(no reason given)"
        m = re.match(r"\s+#\s?(.*)$", rest)
        if m:
            return m.group(1).strip() or "(no reason given)"
    return None


# ---------------------------------------------------------------- the scratch copy

SKIP_TOP = re.compile(r"^(\.git|build.*|nightly-out)$")
SKIP_ANY = {"__pycache__", ".git"}


def sync_tree(root, work):
    """Make work a copy of root (no .git, no build dirs): files copied only when their
    content differs, with a fresh mtime so ninja rebuilds what changed."""
    copied = removed = 0
    keep = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if not SKIP_TOP.match(d)]
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_ANY
                             and os.path.join(rel, d).replace("\\", "/") not in ("fuzz/out",))
        for fn in filenames:
            relf = os.path.normpath(os.path.join(rel, fn))
            keep.add(relf)
            src = os.path.join(root, relf)
            dst = os.path.join(work, relf)
            if os.path.islink(src):
                target = os.readlink(src)
                if not (os.path.islink(dst) and os.readlink(dst) == target):
                    if os.path.lexists(dst):
                        os.remove(dst)
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    os.symlink(target, dst)
                    copied += 1
                continue
            if not os.path.isfile(src):
                continue
            if os.path.isfile(dst) and not os.path.islink(dst) and os.path.getsize(dst) == os.path.getsize(src):
                with open(src, "rb") as a, open(dst, "rb") as b:
                    if a.read() == b.read():
                        continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.lexists(dst):
                os.remove(dst)
            shutil.copyfile(src, dst)
            shutil.copymode(src, dst)
            copied += 1
    for dirpath, dirnames, filenames in os.walk(work):
        rel = os.path.relpath(dirpath, work)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in ("build", "logs") and not d.startswith(".mutate")]
        for fn in filenames:
            relf = os.path.normpath(os.path.join(rel, fn))
            if rel == "." and fn.startswith(".mutate"):
                continue
            if relf not in keep:
                os.remove(os.path.join(work, relf))
                removed += 1
    return copied, removed


FIRST_FAILURE = re.compile(rb"Test\s+#\d+:.*\*\*\*(Failed|Timeout|Exception)|\*\*\*Failed|\*\*\*Timeout")


def _killpg(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def export_git(root, rev, dest):
    """A clean copy of commit rev of the repository at root (git archive) in dest: the tree
    to mutate when the working tree holds other people's half-done edits."""
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--verify", rev + "^{commit}"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise UsageError("--git %s: not a commit of %s (%s)" % (rev, root, getattr(e, "stderr", e)))
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    arch = subprocess.Popen(["git", "-C", root, "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    rc = subprocess.run(["tar", "-x", "-C", dest], stdin=arch.stdout).returncode
    arch.stdout.close()
    if arch.wait() != 0 or rc != 0:
        raise EnvError("git archive %s failed" % commit)
    say("mutating commit %s (git archive into %s)" % (commit, dest))
    return dest


def run_logged(cmd, log, cwd=None, timeout=None, stop_on_failure=False):
    """Runs cmd in its own process group with output to log. (rc, timed_out).
    stop_on_failure: a ctest run is ended as soon as its log reports a failed test (the
    tests still running would only delay the verdict: ctest --stop-on-failure waits for
    them, up to their own TIMEOUT)."""
    with open(log, "wb") as out:
        out.write(("$ " + " ".join(shlex.quote(x) for x in cmd) + "\n").encode())
        out.flush()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout if timeout else None
        try:
            while True:
                try:
                    return p.wait(timeout=0.5), False
                except subprocess.TimeoutExpired:
                    pass
                if deadline and time.time() > deadline:
                    _killpg(p)
                    return -9, True
                if stop_on_failure:
                    with open(log, "rb") as f:
                        if FIRST_FAILURE.search(f.read()):
                            _killpg(p)
                            return 8, False
        except BaseException:
            _killpg(p)
            raise


def failed_tests(log):
    names = []
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.search(r"Test\s+#\d+:\s+(\S+)\s+\.*\**\s*(Failed|Timeout|Exception|Not Run|\*\*\*)", line)
                if m and m.group(1) not in names:
                    names.append(m.group(1))
    except OSError:
        pass
    return names


class Runner:
    def __init__(self, args, root, work):
        self.args, self.root, self.work = args, root, work
        self.build = os.path.join(work, "build")
        self.logs = os.path.join(work, "logs")
        self.objects = None
        self.test_times = {}
        self.mutant_timeout = args.mutant_timeout or 900
        self.pristine_digest = {}

    def ninja_cmd(self):
        return ["ninja", "-C", self.build, "-j%d" % self.args.jobs] + self.args.targets

    def ctest_cmd(self):
        return (["ctest", "--test-dir", self.build, "-L", self.args.label, "-j%d" % self.args.jobs,
                 "--stop-on-failure", "--timeout", str(self.args.timeout)]
                + shlex.split(self.args.ctest_args))

    def objects_of(self, rel):
        """The object files compiled from source rel (compile_commands.json)."""
        if self.objects is None:
            self.objects = {}
            try:
                with open(os.path.join(self.build, "compile_commands.json")) as f:
                    cc = json.load(f)
            except (OSError, ValueError):
                cc = []
            for e in cc:
                src = os.path.relpath(os.path.realpath(e.get("file", "")), os.path.realpath(self.work))
                out = e.get("output")
                if not out:
                    argv = e.get("arguments") or shlex.split(e.get("command", ""))
                    out = next((argv[i + 1] for i, x in enumerate(argv[:-1]) if x == "-o"), None)
                if out:
                    self.objects.setdefault(src, []).append(os.path.join(e.get("directory", self.build), out))
        return sorted(self.objects.get(rel, []))

    def object_digest(self, rel):
        objs = self.objects_of(rel)
        if not objs:
            return None
        h = hashlib.sha256()
        for o in objs:
            try:
                with open(o, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
            except OSError:
                return None
        return h.hexdigest()

    def prepare(self):
        os.makedirs(self.logs, exist_ok=True)
        copied, removed = sync_tree(self.root, self.work)
        say("work copy %s: %d files copied, %d removed" % (self.work, copied, removed))
        if not os.path.exists(os.path.join(self.build, "build.ninja")):
            cmd = ["cmake", "-S", self.work, "-B", self.build, "-G", "Ninja",
                   "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"] + shlex.split(self.args.cmake_args)
            rc, _ = run_logged(cmd, os.path.join(self.logs, "configure.log"))
            if rc != 0:
                raise EnvError("configure failed, see %s" % os.path.join(self.logs, "configure.log"))
        t0 = time.time()
        rc, _ = run_logged(self.ninja_cmd(), os.path.join(self.logs, "build-base.log"))
        if rc != 0:
            raise EnvError("the unmutated tree does not build, see %s/build-base.log" % self.logs)
        say("built the unmutated copy in %.0f s" % (time.time() - t0))
        for rel in list_files(self.work, self.args.files):
            self.pristine_digest[rel] = self.object_digest(rel)

    def baseline(self):
        t0 = time.time()
        log = os.path.join(self.logs, "test-base.log")
        rc, to = run_logged(self.ctest_cmd(), log, timeout=self.args.mutant_timeout or 1800)
        if rc != 0:
            raise EnvError("baseline: the unmutated tree fails its tests (%s), see %s"
                           % (", ".join(failed_tests(log)) or ("timeout" if to else "rc %d" % rc), log))
        took = time.time() - t0
        self.test_times = {}
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.search(r"Test\s+#\d+:\s+(\S+)\s.*Passed\s+([\d.]+)\s+sec", line)
                if m:
                    self.test_times[m.group(1)] = float(m.group(2))
        if not self.args.mutant_timeout:
            self.mutant_timeout = max(120, int(3 * took))
        say("baseline passes in %.0f s; a mutant's test run is cut (killed, timeout) after %d s"
            % (took, self.mutant_timeout))

    def order_cheap_first(self):
        """ctest starts the tests it thinks costliest first (Testing/Temporary/CTestCostData.txt,
        and those that failed last time before all). For mutants the quick tests should go
        first: most mutants are killed by a unit test in a second. Rewritten before every run
        from the baseline's times, so the order does not depend on earlier mutants."""
        if not self.test_times:
            return
        d = os.path.join(self.build, "Testing", "Temporary")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "CTestCostData.txt"), "w") as f:
            for name, t in sorted(self.test_times.items()):
                f.write("%s 1 %.6f\n" % (name, 1000.0 / (t + 0.01)))
            f.write("---\n")

    def run_one(self, mid, c):
        path = os.path.join(self.work, c.file)
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            pristine = f.read()
        mutated = apply_mutant(pristine, c)
        res = {"failed_tests": []}
        t0 = time.time()
        try:
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(mutated)
            blog = os.path.join(self.logs, "%d.build.log" % mid)
            rc, _ = run_logged(self.ninja_cmd(), blog)
            if rc != 0:
                res["result"] = "stillborn"
            elif self.pristine_digest.get(c.file) and self.object_digest(c.file) == self.pristine_digest[c.file]:
                # every object compiled from the file is byte-identical to the unmutated one's
                res["result"] = "equivalent"
                res["reason"] = "identical object code"
            else:
                tlog = os.path.join(self.logs, "%d.test.log" % mid)
                if not self.args.costly_first:
                    self.order_cheap_first()
                rc, to = run_logged(self.ctest_cmd(), tlog, timeout=self.mutant_timeout, stop_on_failure=True)
                res["failed_tests"] = failed_tests(tlog) + (["(timeout)"] if to else [])
                res["result"] = "killed" if rc != 0 else "survived"
        finally:
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(pristine)
        res["seconds"] = round(time.time() - t0, 1)
        return res

    def finish(self):
        run_logged(self.ninja_cmd(), os.path.join(self.logs, "build-restored.log"))


# ---------------------------------------------------------------- reporting

def say(msg):
    print(msg, flush=True)


def short(s, n=38):
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n - 3] + "..."


def row(mid, c, result, secs):
    ch = "%s -> %s" % (short(c.orig_tok or "''", 30), short(c.new_tok or "''", 30))
    return "%4s  %-26s %-8s %-44s %-11s %6s" % (mid, "%s:%d" % (c.file, c.line), c.op, short(ch, 44),
                                               result, secs)


HEADER = "%4s  %-26s %-8s %-44s %-11s %6s" % ("id", "file:line", "operator", "original -> mutated",
                                             "result", "sec")


def mutant_json(mid, c, res):
    d = {"id": mid, "file": c.file, "line": c.line, "col": c.col + 1, "operator": c.op,
         "original_token": c.orig_tok, "mutated_token": c.new_tok,
         "original_line": c.original.strip(), "mutated_line": c.mutated.strip(), "key": c.key()}
    d.update(res)
    return d


def summarize(results):
    counts = {k: 0 for k in ("killed", "survived", "stillborn", "equivalent", "pending")}
    for r in results:
        counts[r.get("result", "pending")] = counts.get(r.get("result", "pending"), 0) + 1
    scored = counts["killed"] + counts["survived"]
    counts["score"] = round(counts["killed"] / scored, 4) if scored else None
    return counts


def write_json(path, meta, results):
    if not path:
        return
    doc = dict(meta)
    doc["summary"] = summarize(results)
    doc["mutants"] = results
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------- main

def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(prog="mutate.py", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--files", action="append", default=None,
                   help="glob relative to --root (repeatable; default alloc/*.c)")
    p.add_argument("--root", default=os.path.dirname(here), help="the tree to mutate (default: this repo)")
    p.add_argument("--work", default="/tmp/mut-work", help="scratch copy (default /tmp/mut-work)")
    p.add_argument("--list", action="store_true", help="print the chosen mutants, run nothing")
    p.add_argument("--only", action="append", default=[], help="run only these ids (repeatable, comma list)")
    p.add_argument("--label", default="smoke", help="ctest -L label (default smoke)")
    p.add_argument("--ctest-args", default="", help="more ctest arguments, one string")
    p.add_argument("--cmake-args", default="", help="more cmake configure arguments, one string")
    p.add_argument("--targets", nargs="*", default=[], help="ninja targets (default: all)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timeout", type=int, default=120, help="ctest --timeout per test")
    p.add_argument("--mutant-timeout", type=int, default=0,
                   help="seconds for one mutant's ctest run, then killed (timeout); default 3x the baseline, >= 120")
    p.add_argument("--json", default=None)
    p.add_argument("--min-score", type=float, default=0.0)
    p.add_argument("--equivalent", default=None,
                   help="known-equivalent list (default <root>/tools/mutants-equivalent.txt)")
    p.add_argument("--git", dest="git_rev", default=None, metavar="REV",
                   help="mutate commit REV of --root (git archive) instead of its working tree")
    p.add_argument("--no-baseline", action="store_true", help="skip testing the unmutated tree")
    p.add_argument("--costly-first", action="store_true",
                   help="keep ctest's own order (costliest first) instead of the baseline's quickest tests first")
    p.add_argument("--selftest", action="store_true", help="check this script (ctest tools.mutate)")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be >= 1")
    if a.jobs < 1:
        p.error("--jobs must be >= 1")
    if not 0.0 <= a.min_score <= 1.0:
        p.error("--min-score must be within 0..1")
    a.files = a.files or ["alloc/*.c"]
    a.root = os.path.abspath(a.root)
    a.work = os.path.abspath(a.work)
    if a.equivalent is None:
        a.equivalent = os.path.join(a.root, "tools", "mutants-equivalent.txt")
    ids = []
    for s in a.only:
        for part in s.split(","):
            if not part.strip().isdigit():
                p.error("--only wants mutant ids, got %r" % part)
            ids.append(int(part))
    a.only = ids
    return a


def main(argv):
    a = parse_args(argv)
    if a.selftest:
        return selftest(a)
    if not os.path.isdir(a.root):
        raise UsageError("--root %s is not a directory" % a.root)
    if not list_files(a.root, a.files):
        raise UsageError("--files %s matches nothing under %s" % (" ".join(a.files), a.root))
    if a.git_rev:
        a.root = export_git(a.root, a.git_rev, a.work + ".src")
    cands = enumerate_candidates(a.root, a.files)
    chosen = choose(cands, a.seed, a.count)
    for i in a.only:
        if not 1 <= i <= len(chosen):
            raise UsageError("--only %d: the ids are 1..%d" % (i, len(chosen)))
    entries = load_equivalents(a.equivalent)
    per_op = {op: sum(1 for c in cands if c.op == op) for op in OPERATORS}
    meta = {"seed": a.seed, "count": a.count, "files": list_files(a.root, a.files), "candidates": len(cands),
            "candidates_per_operator": per_op, "label": a.label, "ctest_args": a.ctest_args,
            "equivalent_list": a.equivalent}
    say("%d candidate sites in %d files (%s); seed %d, %d mutants" % (
        len(cands), len(meta["files"]), ", ".join("%s %d" % kv for kv in per_op.items()), a.seed, len(chosen)))

    selected = [(i + 1, c) for i, c in enumerate(chosen) if not a.only or (i + 1) in a.only]
    results = []
    if a.list:
        say(HEADER)
        for mid, c in selected:
            why = equivalence_reason(c, entries)
            say(row(mid, c, "equivalent" if why else "", ""))
            results.append(mutant_json(mid, c, {"result": "equivalent", "reason": why} if why else {}))
        for mid, c in selected:
            say("  %d  %s" % (mid, c.key()))
        write_json(a.json, meta, results)
        return EXIT_OK

    root_real = os.path.realpath(a.root)
    work_real = os.path.realpath(a.work)
    if work_real == root_real or work_real.startswith(root_real + os.sep):
        raise UsageError("--work must be outside the tree being mutated")
    os.makedirs(a.work, exist_ok=True)
    lockf = open(os.path.join(a.work, ".mutate.lock"), "w")
    try:
        fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise EnvError("%s is in use by another mutate.py run" % a.work)

    runner = Runner(a, a.root, a.work)
    runner.prepare()
    # the copy must hold exactly the texts the mutants were chosen from
    for _, c in selected:
        with open(os.path.join(a.work, c.file), encoding="utf-8", errors="surrogateescape") as f:
            if f.read().split("\n")[c.line - 1] != c.original:
                raise EnvError("%s changed while copying; run again" % c.file)
    if not a.no_baseline:
        runner.baseline()

    say(HEADER)
    for mid, c in selected:
        why = equivalence_reason(c, entries)
        if why:
            res = {"result": "equivalent", "reason": why, "seconds": 0}
        else:
            res = runner.run_one(mid, c)
        results.append(mutant_json(mid, c, res))
        extra = ("  [%s]" % ", ".join(res["failed_tests"][:3])) if res.get("failed_tests") else ""
        say(row(mid, c, res["result"], "%.1f" % res.get("seconds", 0)) + extra)
        write_json(a.json, meta, results)
    runner.finish()

    s = summarize(results)
    say("")
    say("killed %d  survived %d  stillborn %d  equivalent %d  score %s (seed %d, %d mutants)" % (
        s["killed"], s["survived"], s["stillborn"], s["equivalent"],
        "n/a" if s["score"] is None else "%.3f" % s["score"], a.seed, len(selected)))
    surv = [r for r in results if r["result"] == "survived"]
    if surv:
        say("survivors (for %s if equivalent, with '  # reason'):" % a.equivalent)
        for r in surv:
            say("  %d  %s" % (r["id"], r["key"]))
    eq = [r for r in results if r["result"] == "equivalent"]
    if eq:
        say("equivalent:")
        for r in eq:
            say("  %d  %s  # %s" % (r["id"], r["key"], r["reason"]))
    if s["score"] is None:
        return EXIT_OK if a.min_score == 0 else EXIT_LOW
    return EXIT_OK if s["score"] >= a.min_score else EXIT_LOW


# ---------------------------------------------------------------- self-test

FIXTURE = {
    "CMakeLists.txt": """cmake_minimum_required(VERSION 3.20)
project(fx C)
add_compile_options(-Wall -Wextra -Werror)
enable_testing()
add_library(calc STATIC lib/calc.c)
add_executable(test_calc test_calc.c)
target_link_libraries(test_calc PRIVATE calc)
add_test(NAME fx.calc COMMAND test_calc)
set_tests_properties(fx.calc PROPERTIES LABELS "fx")
""",
    "lib/calc.h": """#include <stdbool.h>
int add(int a, int b);
bool is_small(int x);
int twice(int x);
int checked(void);
""",
    "lib/calc.c": """/* calc.c: a < b && c in a comment, and 1 + 2 */
#include "calc.h"
#define LIMIT (3 < 4)
static const int table[] = { 1, 2, 3 };
static int calls;
int add(int a, int b)
{
    calls++;
    return a + b;   // a - b
}
bool is_small(int x)
{
    return x < 10;
}
int twice(int x)
{
    return x * 2;
}
int checked(void)
{
    _Static_assert(sizeof(int) == 4, "a < b");
    return table[0] + LIMIT + calls;
}
#if 0
int dead(void) { return 1; }
#endif
""",
    "test_calc.c": """#include "lib/calc.h"
int main(void)
{
    if (add(2, 3) != 5) return 1;
    if (!is_small(3) || is_small(10)) return 1;
    if (checked() != 3) return 1;
    return 0;
}
""",
    # a known-equivalent entry; `->` in the line must not confuse the parser
    "equivalent.txt": """# fixture equivalents
lib/calc.c:99:return x * 2;->return x * 3;  # twice's value is never tested (the fixture's survivor-by-list)
""",
}
# (line, operator, original token, mutated token, expected result)
FIXTURE_MUTANTS = {
    (8, "arith", "++", "--", "killed"),
    (8, "delete", "calls++;", ";", "killed"),
    (9, "arith", "+", "-", "killed"),
    (13, "rel", "<", "<=", "killed"),
    (13, "const", "10", "11", "killed"),
    (13, "retbool", "x < 10", "!(x < 10)", "killed"),
    (17, "arith", "*", "/", "survived"),
    (17, "const", "2", "3", "equivalent"),
    (21, "rel", "==", "!=", "stillborn"),
    (21, "const", "4", "5", "stillborn"),
    (22, "arith", "+", "-", "killed"),
    (22, "const", "0", "1", "killed"),
    (25, "const", "1", "0", "equivalent"),      # identical object code
}


def selftest(a):
    failures = []

    def check(cond, what):
        say(("ok    " if cond else "FAIL  ") + what)
        if not cond:
            failures.append(what)

    for tool in ("cmake", "ninja", "ctest"):
        if not shutil.which(tool):
            say("skip: %s not found" % tool)
            return 77
    me = os.path.abspath(__file__)
    # 1. choosing on the real tree: deterministic, uniform over every file, apply = one line
    real = enumerate_candidates(a.root, a.files)
    check(len(real) > 100, "%d candidate sites in %s" % (len(real), " ".join(a.files)))
    if os.path.exists(os.path.join(a.root, "alloc", "malloc.c")) and a.files == ["alloc/*.c"]:
        check(any(c.file == "alloc/malloc.c" for c in real), "alloc/malloc.c has candidate sites")
    k1 = [c.key() for c in choose(real, 1, 100)]
    k1b = [c.key() for c in choose(enumerate_candidates(a.root, a.files), 1, 100)]
    k2 = [c.key() for c in choose(real, 2, 100)]
    check(k1 == k1b, "seed 1 chooses the same 100 mutants twice")
    check(k1 != k2, "seed 2 chooses other mutants")
    check([c.key() for c in choose(real, 1, 10)] == k1[:10], "--count 10 is a prefix of --count 100")
    drop = real[0].file
    others = [k for k in k1 if not k.startswith(drop + ":")]
    k3 = [c.key() for c in choose([c for c in real if c.file != drop], 1, 100)]
    check(k3[:len(others)] == others, "without %s's sites the other files' mutants stay chosen" % drop)
    out1 = subprocess.run([sys.executable, me, "--list", "--seed", "7", "--count", "20", "--root", a.root],
                          capture_output=True, text=True)
    out2 = subprocess.run([sys.executable, me, "--list", "--seed", "7", "--count", "20", "--root", a.root],
                          capture_output=True, text=True)
    check(out1.returncode == 0 and out1.stdout == out2.stdout and out1.stdout.count("\n") > 40,
          "--list --seed 7 prints the same 20 mutants twice (exit %d)" % out1.returncode)
    bad = []
    texts = {}
    for c in real:
        if c.file not in texts:
            with open(os.path.join(a.root, c.file), encoding="utf-8", errors="surrogateescape") as f:
                texts[c.file] = f.read()
        t = texts[c.file]
        m = apply_mutant(t, c)
        ol, ml = t.split("\n"), m.split("\n")
        diff = [i for i in range(len(ol)) if ol[i] != ml[i]]
        if len(ol) != len(ml) or diff != [c.line - 1] or c.original == c.mutated:
            bad.append(c.key())
    check(not bad, "every candidate changes exactly its own line (%d bad: %s)" % (len(bad), bad[:3]))
    usage = subprocess.run([sys.executable, me, "--list", "--count", "5", "--only", "6", "--root", a.root],
                           capture_output=True, text=True)
    check(usage.returncode == EXIT_USAGE, "--only beyond --count is a usage error (exit %d)" % usage.returncode)
    usage = subprocess.run([sys.executable, me, "--list", "--files", "no/such/*.c", "--root", a.root],
                           capture_output=True, text=True)
    check(usage.returncode == EXIT_USAGE, "--files matching nothing is a usage error (exit %d)" % usage.returncode)
    if os.path.exists(a.equivalent):
        try:
            n = len(load_equivalents(a.equivalent))
            check(True, "%s parses (%d entries)" % (os.path.relpath(a.equivalent, a.root), n))
        except UsageError as e:
            check(False, str(e))

    # 2. a fixture project end to end: kill, survive, stillborn, equivalent, restore, exits
    base = a.work if a.work != "/tmp/mut-work" else tempfile.mkdtemp(prefix="mutate-selftest-")
    src = os.path.join(base, "fixture")
    work = os.path.join(base, "fixture-work")
    if os.path.exists(src):
        shutil.rmtree(src)
    for rel, body in FIXTURE.items():
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        with open(os.path.join(src, rel), "w") as f:
            f.write(body)
    fc = enumerate_candidates(src, ["lib/*.c"])
    got = {(c.line, c.op, c.orig_tok, c.new_tok) for c in fc}
    want = {m[:4] for m in FIXTURE_MUTANTS}
    check(got == want, "fixture sites: comments, strings, #lines, tables skipped (extra %s, missing %s)"
          % (sorted(got - want), sorted(want - got)))
    report = os.path.join(base, "fixture.json")
    cmd = [sys.executable, me, "--root", src, "--work", work, "--files", "lib/*.c", "--label", "fx",
           "--seed", "3", "--count", "50", "--equivalent", os.path.join(src, "equivalent.txt"),
           "--json", report, "--jobs", "2"]
    run = subprocess.run(cmd + ["--min-score", "0.95"], capture_output=True, text=True)
    sys.stdout.write(run.stdout[-3000:] + run.stderr[-2000:])
    try:
        with open(report) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = {"mutants": [], "summary": {}}
    res = {(m["line"], m["operator"], m["original_token"], m["mutated_token"]): m["result"] for m in doc["mutants"]}
    exp = {m[:4]: m[4] for m in FIXTURE_MUTANTS}
    check(res == exp, "fixture outcomes as expected (differ: %s)"
          % sorted((k, res.get(k), v) for k, v in exp.items() if res.get(k) != v))
    s = doc["summary"]
    check((s.get("killed"), s.get("survived"), s.get("stillborn"), s.get("equivalent")) == (9, 1, 2, 2)
          and s.get("score") == 0.9, "fixture summary 9 killed / 1 survived / 2 stillborn / 2 equivalent, 0.9 (%s)" % s)
    check(run.returncode == EXIT_LOW, "score 0.9 < --min-score 0.95 exits 1 (exit %d)" % run.returncode)
    same = all(open(os.path.join(src, r), "rb").read() == open(os.path.join(work, r), "rb").read()
               for r in FIXTURE)
    check(same, "the work copy is restored to the original files")
    killed_id = next((m["id"] for m in doc["mutants"] if m["result"] == "killed"), None)
    if killed_id:
        one = subprocess.run(cmd + ["--only", str(killed_id), "--min-score", "1", "--no-baseline"],
                             capture_output=True, text=True)
        check(one.returncode == EXIT_OK and " killed" in one.stdout,
              "--only %d runs one killed mutant, score 1 (exit %d)" % (killed_id, one.returncode))
    with open(os.path.join(src, "lib", "calc.c"), "a") as f:
        f.write("int broken(void) { return 1 / 0; }\n")   # -Werror=div-by-zero: the baseline fails
    env = subprocess.run(cmd + ["--only", "1"], capture_output=True, text=True)
    check(env.returncode == EXIT_ENV, "an unmutated tree that does not build exits 3 (exit %d)" % env.returncode)
    say("selftest: %s" % ("FAILED (%d)" % len(failures) if failures else "passed"))
    return 1 if failures else 0


def _terminate(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        print("mutate.py: %s" % e, file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except EnvError as e:
        print("mutate.py: %s" % e, file=sys.stderr)
        sys.exit(EXIT_ENV)
    except KeyboardInterrupt:
        print("mutate.py: interrupted (the work copy is restored)", file=sys.stderr)
        sys.exit(130)
