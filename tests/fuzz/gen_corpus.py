#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_container into the directory it is given.

Each seed is a request sequence in the target's byte encoding (see the
decoder in fuzz_container.c: run_request and the pick_* helpers).  The
helpers below mirror that decoder; keep them in step when it changes.
It writes only where told: the committed corpus is regenerated with
    python3 tests/fuzz/gen_corpus.py tests/fuzz/corpus/fuzz_container
Deterministic: running it again writes the same files.
"""
import os
import random
import sys

if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
    sys.exit("usage: gen_corpus.py OUTDIR   (e.g. tests/fuzz/corpus/fuzz_container)")
OUT = sys.argv[1]

# --- argument encoders (mirror pick_ua, pick_size, pick_iova, argsz byte)
def ua_mem(mem, page):            # (n-th mem, page)
    return [mem % 3, page]
def ua_region(nth, page):        # (n-th live region, page)
    return [6, nth, page]
def ua_unaligned(which, page):   # 0: mem0 + page + 1, 1: mem1 + page + 0x800
    return [13 if which else 12, page]
def ua_edge(k):                  # 0, 0x1000, 2^47-4K, 2^48, 2^63, -4K, -8K
    return [14, k]
def size_pages(n):               # n units (n >= 1)
    return [1, n - 1]
def size_zero():
    return [0, 0]
def size_edge(k):                # unit/2, 2^63, -unit, 2^40, unit+0x800
    return [13, k]
def iova(slot, entry):           # (slot, entry offset)
    return [slot & 1, entry & 0xff, entry >> 8]
def iova_last(slot):
    return [(6 << 1) | slot]
def iova_end(slot):
    return [(7 << 1) | slot]
def iova_edge(slot, k, entry=0):  # 2^58, -P, start+0x800, start+entry*P+1, start+entry*64P
    b = [(8 << 1) | slot, k]
    if k in (3, 4):
        b += [entry & 0xff, entry >> 8]
    return b
OKARG = [0]
def argsz(k):                    # 0:min-1 1:min+8 2:0 3:flags=1 4:flags=2^31 5:min+64
    return [240 + k]

# --- requests
def open_container():            return [0]
def open_group(gid):             return [1, gid]
def close_container(nth):        return [2, nth]
def close_group(nth):            return [3, nth]
def set_container(g, c):         return [4, g, 0, c]
def set_container_group(g, o):   return [4, g, 7, o]
def set_container_neg(g):        return [4, g, 8]
def set_container_badfd(g):      return [4, g, 9]
def unset(g):                    return [6, g]
def set_iommu(c, t=0):           return [7, c, t]          # t index: 0-4 v2, 5.. bad
def register(c, ua, size, a=OKARG):   return [8, c] + ua + size + a
def unregister_exact(c, nth, a=OKARG): return [10, c, 1, nth] + a
def unregister(c, ua, size, a=OKARG): return [10, c, 0] + ua + size + a
def map_(c, ua, io, size, perm=0, a=OKARG):   # perm: 0 rw, 4 r, 6 w, 8 none, 9 bad bits
    return [11, c] + ua + io + [1] + size + [perm] + a
def map_rest(c, ua, io, perm=0):  # size = rest of the region holding ua
    return [11, c] + ua + io + [0, perm, 0]
def unmap(c, io, size, a=OKARG):  return [14, c] + io + [1] + size + a
def unmap_window(c, slot):        return [14, c] + iova(slot, 0) + [0, 0]
def create(c, shift_idx, log_size, levels, a=OKARG):  # shifts: 0-3 12, 4 16, 5 21, 6 30, 7 13, 8 0, 9 64, 10 24, 11 45
    return [15, c, shift_idx, log_size, levels] + a
def remove(c, slot, a=OKARG):     return [17, c, slot] + a
def remove_at(c, io, a=OKARG):    return [17, c, 200] + io + a
def dma_entry(gid, slot, k, off, write=False, val=0xab, ln=4):
    b = gid | 0x40 | (slot << 3) | (0x80 if write else 0)
    return [18, b, val, ln - 1, k & 0xff, k >> 8, off]
def dma_cross(gid, slot, k, write=False, val=0xcd, ln=8):
    b = gid | 0x60 | (slot << 3) | (0x80 if write else 0)
    return [18, b, val, ln - 1, k & 0xff, k >> 8]
def dma_at(gid, io, write=False, val=0x5a, ln=1):
    b = gid | (0x80 if write else 0)
    return [18, b, val, ln - 1] + io
def memlock(idx, cap=0):         # limits: 64M, 8M+256K, 8M, 8M+64K, 1M, 256K, 0, 16M, 32M, 8M+4095
    return [20, idx | (0xf0 if cap == 1 else 0xe0 if cap == 2 else 0)]
def mprotect(mem, prot, page, n):  # prot 0 rw, 1 ro, 2 none
    return [21, mem, prot, page, n - 1]
def info(c, k=0):                return [22, c, k]
def foreign(c, k):               # from a forked child: 0 register, 1 map, 2 unmap, 3 remove, 4 get_info, 5 check_extension, 6 enable
    return [23, 0, c, k]
def check_ext(c, ext):           return [22, c, 0x80 | ext]
def enable(c):                   return [22, c, 0x41]
def disable(c):                  return [22, c, 0x40]

SETUP = [0x00]          # 64 MiB limit, c0 + g0 + v2
SETUP_V1 = [0x40]       # 64 MiB limit and CAP_IPC_LOCK, c0 + g0 + v1 enabled
BARE = [0x80]           # 64 MiB limit, nothing open

seeds = {}
seeds["basic_map_dma"] = SETUP + register(0, ua_mem(0, 0), size_pages(16)) + \
    map_(0, ua_region(0, 0), iova(0, 16), size_pages(8)) + \
    dma_entry(0, 0, 0, 5) + dma_entry(0, 0, 2, 100, write=True) + dma_cross(0, 0, 3, write=True) + \
    unmap(0, iova(0, 16), size_pages(8)) + dma_at(0, iova(0, 16)) + unregister_exact(0, 0)
seeds["windows"] = SETUP + register(0, ua_mem(2, 0), size_pages(40)) + \
    create(0, 4, 36, 2) + create(0, 0, 20, 1) + map_(0, ua_region(0, 0), iova(1, 0), size_pages(1)) + \
    remove(0, 1) + create(0, 0, 30, 3) + map_(0, ua_region(0, 0), iova(1, 7), size_pages(20)) + \
    dma_entry(0, 1, 5, 0) + dma_entry(0, 1, 6, 1, write=True) + remove(0, 0) + \
    map_(0, ua_region(0, 3), iova(0, 0), size_pages(2)) + unmap_window(0, 1) + \
    create(0, 0, 21, 1) + map_(0, ua_region(0, 0), iova(0, 0), size_pages(4), perm=4) + \
    dma_entry(0, 0, 1, 0, write=True) + remove_at(0, iova(1, 3)) + create(0, 0, 40, 4)
seeds["two_containers"] = SETUP + register(0, ua_mem(1, 0), size_pages(4)) + open_container() + \
    open_group(1) + set_container(1, 1) + set_iommu(1) + register(1, ua_region(0, 0), size_pages(4)) + \
    map_rest(1, ua_region(0, 0), iova(0, 0)) + unregister_exact(1, 0) + unregister_exact(0, 0) + \
    dma_entry(1, 0, 0, 0) + unmap_window(1, 0) + unregister_exact(0, 0) + register(1, ua_mem(1, 0), size_pages(4)) + \
    open_group(2) + set_container(2, 0) + dma_at(2, iova(0, 0)) + unset(1)
seeds["memlock"] = [0x03] + register(0, ua_mem(0, 0), size_pages(16)) + \
    map_(0, ua_region(0, 0), iova(0, 0), size_pages(16)) + register(0, ua_mem(0, 20), size_pages(1)) + \
    memlock(3, cap=1) + register(0, ua_mem(0, 20), size_pages(1)) + memlock(6) + \
    create(0, 0, 21, 1) + memlock(0) + create(0, 0, 21, 1) + memlock(4, cap=2) + \
    unregister_exact(0, 1) + register(0, ua_mem(2, 0), size_pages(47))
seeds["memlock_default_window"] = [0x02] + memlock(2) + register(0, ua_mem(0, 0), size_pages(1)) + \
    map_(0, ua_region(0, 0), iova(0, 0), size_pages(1)) + memlock(1) + \
    map_(0, ua_region(0, 0), iova(0, 0), size_pages(1)) + unmap(0, iova(0, 0), size_pages(1))
seeds["mprotect"] = SETUP + mprotect(0, 1, 2, 1) + register(0, ua_mem(0, 0), size_pages(4)) + \
    mprotect(0, 2, 2, 1) + register(0, ua_mem(0, 0), size_pages(4)) + mprotect(0, 0, 2, 1) + \
    register(0, ua_mem(0, 0), size_pages(4)) + register(0, ua_mem(0, 60), size_pages(8)) + \
    register(0, ua_edge(0), size_pages(1)) + register(0, ua_edge(3), size_pages(1)) + \
    register(0, ua_edge(5), size_pages(2)) + register(0, ua_unaligned(0, 1), size_pages(1))
seeds["release"] = SETUP + register(0, ua_mem(0, 0), size_pages(8)) + \
    map_(0, ua_region(0, 0), iova(0, 3), size_pages(8)) + unset(0) + set_container(0, 0) + \
    map_(0, ua_region(0, 0), iova(0, 3), size_pages(8)) + set_iommu(0) + \
    map_(0, ua_mem(0, 0), iova(0, 3), size_pages(8)) + register(0, ua_mem(0, 0), size_pages(8)) + \
    map_(0, ua_region(0, 0), iova(0, 3), size_pages(8)) + close_container(0) + \
    dma_entry(0, 0, 2, 9) + close_group(0)
seeds["errors"] = SETUP + set_iommu(0, 5) + set_iommu(0, 0) + info(0, 0) + info(0, 2) + info(0, 3) + \
    check_ext(0, 2) + check_ext(0, 7) + check_ext(0, 1) + enable(0) + disable(0) + open_group(4) + \
    open_group(0) + set_container_neg(0) + set_container_badfd(0) + set_container_group(0, 0) + \
    set_container(0, 0) + unregister(0, ua_mem(0, 0), size_pages(1)) + \
    map_(0, ua_mem(0, 0), iova(0, 0), size_pages(1)) + unmap(0, iova(0, 0), size_pages(1)) + \
    register(0, ua_mem(0, 0), size_pages(1), argsz(0)) + register(0, ua_mem(0, 0), size_pages(1), argsz(3)) + \
    register(0, ua_mem(0, 0), size_zero()) + register(0, ua_mem(0, 0), size_edge(2)) + \
    unregister(0, ua_mem(0, 0), size_zero()) + create(0, 7, 30, 1) + create(0, 0, 30, 0) + \
    create(0, 0, 30, 6) + create(0, 0, 11, 1) + create(0, 0, 30, 1, argsz(0)) + create(0, 5, 50, 1) + \
    remove(0, 1) + remove(0, 0, argsz(3)) + remove_at(0, iova_edge(0, 0))
seeds["rollback"] = SETUP + register(0, ua_mem(0, 0), size_pages(4)) + register(0, ua_mem(0, 8), size_pages(4)) + \
    map_(0, ua_mem(0, 8), iova(0, 4), size_pages(4)) + map_(0, ua_mem(0, 0), iova(0, 0), size_pages(12)) + \
    dma_at(0, iova(0, 4)) + dma_at(0, iova(0, 0)) + register(0, ua_mem(0, 4), size_pages(4)) + \
    map_(0, ua_mem(0, 0), iova(0, 0), size_pages(12), perm=6) + dma_entry(0, 0, 11, 0, write=True) + \
    map_(0, ua_mem(0, 2), iova(0, 0), size_pages(12)) + map_(0, ua_unaligned(0, 0), iova(0, 0), size_pages(1)) + \
    map_(0, ua_mem(0, 0), iova_edge(0, 2), size_pages(1)) + map_(0, ua_mem(0, 0), iova_last(0), size_pages(2)) + \
    map_(0, ua_mem(0, 0), iova_end(0), size_pages(1)) + map_(0, ua_mem(0, 0), iova_edge(0, 0), size_pages(1)) + \
    map_(0, ua_mem(0, 0), iova(0, 0), size_pages(1), perm=8) + map_(0, ua_mem(0, 0), iova(0, 0), size_pages(1), perm=9) + \
    unmap(0, iova_edge(0, 1), size_pages(1)) + unmap(0, iova(0, 1), size_edge(0)) + unmap(0, iova(0, 0), size_edge(2))
seeds["pending_remove"] = SETUP + remove(0, 0) + create(0, 0, 21, 1) + register(0, ua_mem(2, 0), size_pages(32)) + \
    map_rest(0, ua_region(0, 0), iova(0, 500)) + create(0, 5, 30, 2) + \
    map_(0, ua_region(0, 0), iova(1, 0), size_pages(1)) + remove(0, 0) + remove(0, 0) + \
    create(0, 0, 22, 2) + map_rest(0, ua_region(0, 1), iova(0, 1000))
seeds["fd_closed_container"] = SETUP + open_group(1) + set_container(1, 0) + \
    register(0, ua_mem(0, 0), size_pages(8)) + map_(0, ua_region(0, 0), iova(0, 0), size_pages(8)) + \
    close_container(0) + dma_entry(0, 0, 1, 0) + dma_entry(1, 0, 2, 0, write=True) + close_group(0) + \
    dma_entry(1, 0, 3, 0) + open_container() + close_group(0)

seeds["foreign"] = SETUP + foreign(0, 4) + foreign(0, 5) + register(0, ua_mem(0, 0), size_pages(2)) + \
    sum((foreign(0, k) for k in range(7)), []) + open_container() + foreign(1, 0) + foreign(1, 5)
# Only the first forked request of an input runs (fuzz_container.c, MAX_FORKS):
# this seed forks once, for REGISTER; check_spapr_abi tests every kind (spec 8.26).

seeds["v1"] = SETUP_V1 + info(0, 0) + map_(0, ua_mem(0, 0), iova(0, 8), size_pages(8)) + \
    dma_entry(0, 0, 1, 3) + dma_entry(0, 0, 2, 0, write=True) + \
    map_(0, ua_mem(0, 62), iova(0, 100), size_pages(4)) + map_(0, ua_mem(0, 2), iova(0, 8), size_pages(2), perm=4) + \
    dma_entry(0, 0, 0, 0, write=True) + unmap(0, iova(0, 9), size_pages(3)) + enable(0) + \
    register(0, ua_mem(0, 0), size_pages(1)) + create(0, 0, 21, 1) + remove(0, 0) + \
    open_group(1) + set_container(1, 0) + disable(0) + map_(0, ua_mem(1, 0), iova(0, 0), size_pages(1)) + \
    enable(0) + map_(0, ua_mem(1, 0), iova(0, 0), size_pages(2)) + foreign(0, 1) + unset(0)
seeds["v1_two_groups"] = BARE + open_container() + open_group(0) + open_group(1) + set_container(0, 0) + \
    set_container(1, 0) + set_iommu(0, 4) + unset(1) + memlock(0, cap=1) + set_iommu(0, 4) + \
    enable(0) + mprotect(0, 1, 5, 1) + map_(0, ua_mem(0, 4), iova(0, 0), size_pages(3), perm=4) + \
    set_container(1, 0) + close_container(0)

random.seed(7)
for i in range(8):
    seeds["random%d" % i] = [random.randrange(256) for _ in range(random.choice([40, 120, 300]))]

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes(b & 0xff for b in data))
print("wrote %d seeds to %s" % (len(seeds), OUT))
