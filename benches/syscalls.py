#!/usr/bin/env python3
"""Counts the system calls of one process (all its threads) in an `strace -f` log.

usage: syscalls.py TRACE  ->  prints "NAME COUNT" lines for the traced root
process and its threads only: children it spawned (a stdio server) are left
out, as are their threads. `strace -f -c` cannot tell them apart.
"""

import re
import sys
from collections import Counter

LINE = re.compile(r"^(\d+)\s+(.*)$")
CALL = re.compile(r"^([a-z_0-9]+)\(")
RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>")
RESULT = re.compile(r"=\s+(\d+)(?:\s|$)")
FORKS = ("clone", "clone3", "fork", "vfork")


def main(path):
    lines = []
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw)
            if m:
                lines.append((int(m.group(1)), m.group(2)))
    if not lines:
        return
    # Pass 1: who is a thread of whom (CLONE_THREAD), who is a new process.
    root = lines[0][0]
    parent = {}  # tid -> (creator tid, is_thread)
    pending = {}  # tid -> (call, is_thread) of an unfinished clone
    for tid, text in lines:
        m = CALL.match(text)
        if m and m.group(1) in FORKS:
            thread = "CLONE_THREAD" in text
            if "<unfinished ...>" in text:
                pending[tid] = thread
                continue
            r = RESULT.search(text)
            if r:
                parent[int(r.group(1))] = (tid, thread)
            continue
        m = RESUMED.match(text)
        if m and m.group(1) in FORKS and tid in pending:
            thread = pending.pop(tid)
            r = RESULT.search(text)
            if r:
                parent[int(r.group(1))] = (tid, thread)

    def process_of(tid):
        seen = 0
        while tid in parent and seen < 10000:
            creator, thread = parent[tid]
            if not thread:
                return tid  # the first task of a new process
            tid = creator
            seen += 1
        return tid

    counts = Counter()
    for tid, text in lines:
        if process_of(tid) != root:
            continue
        m = CALL.match(text)
        if m:  # a call (complete or unfinished); its "resumed" half is not counted again
            counts[m.group(1)] += 1
    for name, n in sorted(counts.items()):
        print(name, n)


if __name__ == "__main__":
    main(sys.argv[1])
