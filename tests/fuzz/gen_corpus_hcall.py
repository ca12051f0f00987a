#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz_hcall into the directory it is given
(only there: python3 tests/fuzz/gen_corpus_hcall.py tests/fuzz/corpus/fuzz_hcall
regenerates the committed one).

Each seed is a scenario spelt in the target's byte decoding (see
tests/fuzz/fuzz_hcall.c: hc_run_request and the hc_pick_* functions);
random seeds of structured-but-random requests follow.  Deterministic:
running it again writes the same files."""
import os
import random
import struct
import sys

L0, L1, L2, L3, LBAD = 0, 1, 2, 3, 15      # liobn bytes: 0x1000, 0x1001, 0x80000000, 0x2, 0xdead
G0, G1, G2, G3, NOFD, CFD = 0, 1, 2, 3, 4, 5  # group choice bytes (g3 is in c1)


def u16(v):
    return struct.pack("<H", v & 0xffff)


def gpa(slot, off):                         # (n-th memslot, offset in the unit)
    return bytes([0, slot]) + u16(off)


def tce(perm, slot, page):                  # a guest page of memslot @slot | perm
    return bytes([(4 << 2) | perm]) + gpa(slot, page)


def ioba(off):                              # entry offset in the table
    return bytes([0x31]) + u16(off)


def create_table(liobn, shift_idx, geo):    # shift_idx 0:12 3:16 5:21 7:24; geo: offset/size byte
    return bytes([2, liobn, shift_idx, geo])


def attach(liobn, g):
    return bytes([6, liobn, g])


def detach(liobn, g):
    return bytes([9, liobn, g])


def put(liobn, off, t):
    return bytes([10, liobn]) + ioba(off) + t


def indirect(liobn, nsel, mode, off, list_gpa, first, extra=b""):
    return bytes([14, liobn, nsel, mode]) + ioba(off) + list_gpa + first + extra


def stuff(liobn, sel, off, n=b""):
    return bytes([17, liobn, sel]) + ioba(off) + n


def get(liobn, off):
    return bytes([19, liobn]) + ioba(off)


def create_window(b, c=0):                   # b: shift, size, levels; c: container
    return bytes([20, b, c])


def remove_window(slot1, c=0):
    return bytes([21, (1 if slot1 else 0) | (c << 1)])


def destroy_table(liobn):
    return bytes([5, liobn])


def memslot(b, rest):
    return bytes([0, b]) + rest


def register(b):
    return bytes([22, b])


GEO_DEFAULT = 0          # offset 0, 2 GiB of guest pages: the default window
GEO_SLOT1_1G = 3 + 16    # offset 1 << 59, 1 GiB


def seeds():
    s = {}
    base = bytes([0])
    s["basic_put_get"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        put(L0, 5, tce(3, 0, 7)) + put(L0, 6, tce(1, 0, 8)) + get(L0, 5) + \
        put(L0, 5, tce(0, 0, 7)) + get(L0, 6) + put(L0, 9, tce(3, 1, 2))
    s["indirect_contig"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        attach(L0, G1) + indirect(L0, 16, 0, 100, gpa(0, 200), tce(3, 0, 3)) + \
        indirect(L0, 5, 2, 300, gpa(1, 1), tce(1, 0, 20)) + get(L0, 101)
    s["indirect_bad_middle"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        indirect(L0, 12, 3, 40, gpa(0, 250), tce(3, 0, 10), u16(6)) + get(L0, 40)
    s["indirect_512"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        indirect(L0, 180, 0, 0, gpa(0, 255), tce(3, 0, 0)) + \
        indirect(L0, 210, 0, 0, gpa(0, 255), tce(3, 0, 0)) + stuff(L0, 0x20, 0) + \
        stuff(L0, 3, 10, b"\x40")
    s["subpages_64k"] = base + create_table(L1, 3, GEO_DEFAULT) + attach(L1, G0) + \
        put(L1, 2, tce(3, 0, 3)) + put(L1, 3, tce(1, 0, 4)) + stuff(L1, 0, 2) + \
        indirect(L1, 4, 0, 10, gpa(1, 0), tce(3, 0, 1))
    s["slot1_window"] = base + create_window(0) + create_table(L2, 0, GEO_SLOT1_1G) + \
        attach(L2, G1) + put(L2, 1, tce(3, 0, 1)) + create_window(2 + 4 * 0) + \
        create_table(L3, 3, GEO_SLOT1_1G) + attach(L3, G0)
    s["remove_attached"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        put(L0, 1, tce(3, 0, 1)) + remove_window(False) + put(L0, 2, tce(3, 0, 2)) + \
        get(L0, 1) + detach(L0, G0) + attach(L0, G1) + destroy_table(L0)
    s["errors"] = base + attach(L0, G0) + create_table(L0, 10, GEO_DEFAULT) + \
        create_table(L0, 0, GEO_DEFAULT) + create_table(L0, 0, GEO_DEFAULT) + \
        attach(L0, G2) + attach(L0, NOFD) + attach(L0, CFD) + attach(LBAD, G0) + \
        detach(L0, G0) + put(LBAD, 0, tce(3, 0, 0)) + stuff(L0, 4, 0) + get(L0, 0) + \
        create_table(L1, 0, 6 * 8) + destroy_table(L3)
    s["memslots"] = base + memslot(3, gpa(0, 0) + bytes([6, 0])) + \
        memslot(1 | 0x18, bytes([4]) + gpa(0, 0) + bytes([6, 0])) + \
        memslot(2 | 0x20, gpa(0, 0) + bytes([6, 0])) + memslot(7, gpa(0, 0) + bytes([6])) + \
        create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + put(L0, 3, tce(3, 1, 5))
    s["unregister_busy"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        put(L0, 0, tce(3, 0, 0)) + register(1) + stuff(L0, 0, 0) + register(1) + \
        put(L0, 0, tce(3, 0, 0)) + register(0)
    s["two_containers"] = base + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        attach(L0, G3) + put(L0, 4, tce(3, 0, 4)) + \
        indirect(L0, 8, 0, 20, gpa(0, 100), tce(1, 0, 30)) + stuff(L0, 0, 4) + \
        put(L0, 5, tce(3, 0, 5)) + remove_window(False, 1) + put(L0, 6, tce(3, 0, 6)) + \
        create_window(0, 1) + create_table(L2, 0, GEO_SLOT1_1G) + attach(L2, G3) + \
        attach(L2, G0) + create_window(0, 0) + attach(L2, G1) + put(L2, 1, tce(3, 0, 1))
    s["c1_unregistered"] = bytes([0x20]) + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G3) + \
        attach(L0, G0) + register(8) + attach(L0, G3) + put(L0, 1, tce(3, 0, 1)) + register(9)
    s["no_register"] = bytes([0x80]) + create_table(L0, 0, GEO_DEFAULT) + attach(L0, G0) + \
        register(0) + attach(L0, G0)
    return s


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: gen_corpus_hcall.py OUTDIR   (e.g. tests/fuzz/corpus/fuzz_hcall)")
    OUT = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    rnd = random.Random(12345)
    parts = [lambda: create_table(rnd.choice([L0, L1, L2]), rnd.choice([0, 0, 3, 5]),
                                  rnd.choice([GEO_DEFAULT, GEO_SLOT1_1G])),
             lambda: attach(rnd.choice([L0, L1, L2]), rnd.choice([G0, G1, G3])),
             lambda: put(rnd.choice([L0, L1, L2]), rnd.randrange(64),
                         tce(rnd.randrange(4), rnd.randrange(2), rnd.randrange(64))),
             lambda: indirect(rnd.choice([L0, L1, L2]), rnd.randrange(256), rnd.randrange(3),
                              rnd.randrange(64), gpa(rnd.randrange(2), rnd.randrange(16)),
                              tce(rnd.randrange(4), 0, rnd.randrange(64))),
             lambda: stuff(rnd.choice([L0, L1, L2]), rnd.randrange(256), rnd.randrange(64),
                           bytes([rnd.randrange(256)])),
             lambda: get(rnd.choice([L0, L1, L2]), rnd.randrange(64)),
             lambda: create_window(rnd.randrange(256), rnd.randrange(2)),
             lambda: remove_window(rnd.randrange(2), rnd.randrange(2)),
             lambda: detach(rnd.choice([L0, L1, L2]), rnd.choice([G0, G1]))]
    for k in range(8):
        data = bytes([rnd.randrange(4)])
        for _ in range(30):
            data += rnd.choice(parts)()
        with open(os.path.join(OUT, "random%d" % k), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
