#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns a `spaprtce replay` trace into an input of fuzz_container, so that
a user's trace can seed the fuzzer:

    python3 tests/fuzz/trace2input.py my.trace build/fuzz/corpus/fuzz_container/my-trace
    build/fuzz/fuzz_container build/fuzz/corpus/fuzz_container tests/fuzz/corpus/fuzz_container

It writes only the output file it is given.  The input is spelt in the
target's byte decoding (tests/fuzz/fuzz_container.c: prologue, run_request
and the pick_* helpers; tests/fuzz/gen_corpus.py spells the same encoding
for the hand-written seeds) and starts bare (first byte with bit 7: no
container made by the prologue), then one request per trace request.

What maps exactly (the target prints the same request lines, expectations
included, when it runs the input):
  memlock, container, group, set_container (a container, -1, or another
  fd), unset_container, set_iommu, register, unregister, map, unmap,
  create, remove, enable, disable, check_extension, get_info, close,
  mprotect (1-4 pages), with the target's argument ranges: user addresses
  in one of its three memory areas (256 KiB, 64 KiB, 1 MiB; each of the
  trace's `mem` areas is given one by size), sizes of 0-48 pages of the
  window (or the target's edge values), bus addresses at 16-bit page
  offsets of a window slot, power-of-two window sizes.
What is approximated: a value outside those ranges becomes the nearest one
the target can draw (a note on stderr for each).  What is left out (a note
each): lines the target writes itself or has no request for (mem, fill,
check, poke64, dma_read, dma_write, locked_vm, pinned, api_version, ioctl,
fork_expect, the hypercall path), and everything after the 96th request
(MAX_REQUESTS).  A trace printed by the fuzzer itself (memory areas m0, m1,
m2 with guard pages, up to its `# cleanup` comment) converts exactly:
tests/check_fuzz_corpus.c converts the trace of every seed and checks that
the converted input prints the same request lines.
"""
import re
import sys

MEM_PAGES = [64, 16, 256]          # fuzz_container's mem_pages[]
PAGE = 0x1000
SLOT1 = 1 << 59
MAX_REQUESTS = 96
OP = dict(container=0, group=1, close_c=2, close_g=3, set_container=4, unset_container=6,
          set_iommu=7, register=8, unregister=10, map=11, unmap=14, create=15, remove=17,
          memlock=20, mprotect=21, info=22)
MEMLOCK_PROLOGUE = [64 << 20, 16 << 20, (8 << 20) + (512 << 10), (8 << 20) + (64 << 10)]
MEMLOCK = [64 << 20, (8 << 20) + (256 << 10), 8 << 20, (8 << 20) + (64 << 10), 1 << 20, 256 << 10, 0,
           16 << 20, 32 << 20, (8 << 20) + 4095]
SHIFTS = [12, 12, 12, 12, 16, 21, 30, 13, 0, 64, 24, 45]
IOMMU_TYPES = {"v2": 0, "7": 0, "v1": 4, "2": 4, "1": 6, "3": 7, "8": 8, str(0x10007): 9}
INFO_SIZES = [32, 32, 16, 15, 24, 40]
U64 = (1 << 64) - 1


def byte_for(value, modulus, lo=0, hi=255):
    """A byte in [lo, hi] that is @value modulo @modulus."""
    return next(b for b in range(lo, hi + 1) if b % modulus == value)


def note(msg):
    sys.stderr.write("trace2input: %s\n" % msg)


class Converter:
    def __init__(self):
        self.out = []
        self.nreq = 0
        self.mems = {}           # trace name -> (area, offset of page 0 in the trace's name space)
        self.cont = {}           # trace name -> model index
        self.c = {}              # model index -> {fd_open, groups, win: {slot: shift}}
        self.gname = {}          # trace name -> group id (open)
        self.gopen = set()
        self.gcont = {}          # group id -> model index of its container
        self.fuzz_style = False
        self.lineno = 0

    # ---------------------------------------------------------------- state
    def open_containers(self):
        return [k for k in sorted(self.c) if self.c[k]["fd_open"]]

    def cont_byte(self, name):
        if name not in self.cont or not self.c[self.cont[name]]["fd_open"]:
            raise ValueError("container %s is not open" % name)
        return self.open_containers().index(self.cont[name])

    def group_byte(self, name):
        if name not in self.gname:
            raise ValueError("group %s is not open" % name)
        return sorted(self.gopen).index(self.gname[name])

    def drop_container_if_unused(self, k):
        if k in self.c and not self.c[k]["fd_open"] and not self.c[k]["groups"]:
            del self.c[k]

    def detach(self, gid):
        k = self.gcont.pop(gid, None)
        if k is not None:
            self.c[k]["groups"].discard(gid)
            self.drop_container_if_unused(k)

    # ------------------------------------------------------------ encoders
    def ua(self, tok):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\+(0x[0-9a-fA-F]+|\d+))?", tok)
        if m and m.group(1) in self.mems:
            area, base = self.mems[m.group(1)]
            off = int(m.group(2) or "0", 0) - base
            page, rest = divmod(off, PAGE)
            pages = MEM_PAGES[area]
            if rest == 0 and 0 <= page <= min(pages, 255):
                return [area, page]
            if rest == 1 and area == 0 and 0 <= page < pages:
                return [12, page]
            if rest == 0x800 and area == 1 and 0 <= page < pages:
                return [13, page]
            note("line %d: %s is beyond what the target draws in its area %d: page %d" %
                 (self.lineno, tok, area, max(0, min(page, pages - 1))))
            return [area, max(0, min(page, pages - 1))]
        v = int(tok, 0) & U64
        edges = [0, 0x1000, (1 << 47) - 0x1000, 1 << 48, 1 << 63, -0x1000 & U64, -0x2000 & U64]
        if v in edges:
            return [14, edges.index(v)]
        note("line %d: address %s outside the target's memory: 0" % (self.lineno, tok))
        return [14, 0]

    def size(self, v, unit):
        edges = [unit // 2, 1 << 63, -unit & U64, 1 << 40, unit + 0x800]
        if v == 0:
            return [0, 0]
        if v % unit == 0 and 1 <= v // unit <= 48:
            return [1, v // unit - 1]
        if v in edges:
            return [13, edges.index(v)]
        n = max(1, min(48, v // unit))
        note("line %d: size 0x%x is not one the target draws: %d pages of 0x%x" % (self.lineno, v, n, unit))
        return [1, n - 1]

    def window(self, k, slot):
        """(page shift, start, size) of slot @slot of container @k; an absent
        window counts as the target does: 4 KiB pages, 2 GiB from the slot's start."""
        shift, size = self.c[k]["win"].get(slot, (12, 2 << 30))
        return shift, SLOT1 if slot else 0, size

    def window_unit(self, k, slot):
        return 1 << self.window(k, slot)[0]

    def iova(self, k, v):
        """(bytes, unit): pick_iova's encoding of bus address @v in container @k."""
        s = 1 if v >= SLOT1 else 0
        p = self.window_unit(k, s)
        start = SLOT1 if s else 0
        off = v - start
        end = start + self.window(k, s)[2]
        if off >= 0 and off % p == 0 and off // p < 65536:
            return [s, (off // p) & 0xff, (off // p) >> 8], p
        if v == end - p:
            return [s | 6 << 1], p
        if v == end:
            return [s | 7 << 1], p
        if v == 1 << 58:
            return [s | 8 << 1, 0], p
        if v == (-p & U64):
            return [s | 8 << 1, 1], p
        if v == start + 0x800:
            return [s | 8 << 1, 2], p
        if off >= 0 and (off - 1) % p == 0 and (off - 1) // p < 65536:
            return [s | 8 << 1, 3, ((off - 1) // p) & 0xff, ((off - 1) // p) >> 8], p
        if off >= 0 and off % (64 * p) == 0 and off // (64 * p) < 65536:
            return [s | 8 << 1, 4, (off // (64 * p)) & 0xff, (off // (64 * p)) >> 8], p
        note("line %d: bus address 0x%x is not one the target draws: the slot's start" % (self.lineno, v))
        return [s, 0, 0], p

    @staticmethod
    def argsz_flags(opts, minsz):
        argsz, flags = int(opts.get("argsz", minsz)), int(opts.get("flags", 0))
        table = {(minsz - 1, 0): 240, (minsz + 8, 0): 241, (0, 0): 242, (minsz, 1): 243,
                 (minsz, 0x80000000): 244, (minsz + 64, 0): 245}
        if (argsz, flags) == (minsz, 0):
            return [0]
        if (argsz, flags) in table:
            return [table[(argsz, flags)]]
        note("argsz=%d flags=%d is not one the target draws: the right ones" % (argsz, flags))
        return [0]

    # ------------------------------------------------------------- requests
    def emit(self, data):
        if self.nreq >= MAX_REQUESTS:
            return False
        self.out += data
        self.nreq += 1
        return True

    def request(self, words, opts, result):
        ok = result == "ok"
        verb = words[0]
        if verb == "container":
            k = min(set(range(16)) - set(self.c))
            if self.emit([OP["container"]]):
                self.c[k] = {"fd_open": True, "groups": set(), "win": {}}
                self.cont[words[1]] = k
        elif verb == "group":
            gid = int(words[2], 0)
            if self.emit([OP["group"], gid % 5]) and ok:
                self.gname[words[1]] = gid
                self.gopen.add(gid)
        elif verb == "close":
            name = words[1]
            if name in self.gname and name not in self.cont:
                gid = self.gname[name]
                if self.emit([OP["close_g"], self.group_byte(name)]) and ok:
                    self.detach(gid)
                    self.gopen.discard(gid)
                    del self.gname[name]
            else:
                k = self.cont[name]
                if self.emit([OP["close_c"], self.cont_byte(name)]) and ok:
                    self.c[k]["fd_open"] = False
                    del self.cont[name]
                    self.drop_container_if_unused(k)
        elif verb == "set_container":
            g, target = self.group_byte(words[1]), words[2]
            if target in self.cont:
                data = [OP["set_container"], g, 0, self.cont_byte(target)]
            elif target in self.gname:
                data = [OP["set_container"], g, 7, self.group_byte(target)]
            elif target == "-1":
                data = [OP["set_container"], g, 8]
            else:
                data = [OP["set_container"], g, 9]
            if self.emit(data) and ok and target in self.cont:
                gid, k = self.gname[words[1]], self.cont[target]
                self.gcont[gid] = k
                self.c[k]["groups"].add(gid)
        elif verb == "unset_container":
            gid = self.gname[words[1]]
            if self.emit([OP["unset_container"], self.group_byte(words[1])]) and ok:
                self.detach(gid)
        elif verb == "set_iommu":
            if words[2] not in IOMMU_TYPES:
                raise ValueError("IOMMU type %s" % words[2])
            self.emit([OP["set_iommu"], self.cont_byte(words[1]), IOMMU_TYPES[words[2]]])
        elif verb in ("register", "unregister"):
            data = [OP[verb], self.cont_byte(words[1])]
            if verb == "unregister":
                data.append(0)      # % 4 == 0: an explicit address and size
            data += self.ua(words[2]) + self.size(int(words[3], 0), PAGE) + self.argsz_flags(opts, 24)
            self.emit(data)
        elif verb == "map":
            k = self.cont[words[1]]
            iova, unit = self.iova(k, int(words[3], 0))
            perm = {"rw": 0, "r": 4, "w": 6, "none": 8}[words[5]]
            flags = int(opts.get("flags", {"rw": 3, "r": 1, "w": 2, "none": 0}[words[5]]))
            rest = dict(opts)
            rest.pop("flags", None)
            if flags == 7:
                perm = 9
            elif flags & ~3:
                rest["flags"] = flags & ~3
            self.emit([OP["map"], self.cont_byte(words[1])] + self.ua(words[2]) + iova + [1] +
                      self.size(int(words[4], 0), unit) + [perm] + self.argsz_flags(rest, 32))
        elif verb == "unmap":
            k = self.cont[words[1]]
            v, size = int(words[2], 0), int(words[3], 0)
            shift, start, wsize = self.window(k, 1 if v >= SLOT1 else 0)
            if v == start and size == wsize and (v or size > 48 << shift):
                # The whole window (the draw % 8 == 0): its slot's start, no size bytes.
                data = [1 if v else 0, 0, 0, 0]
            else:
                iova, unit = self.iova(k, v)
                data = iova + [1] + self.size(size, unit)
            self.emit([OP["unmap"], self.cont_byte(words[1])] + data + self.argsz_flags(opts, 24))
        elif verb == "create":
            k = self.cont[words[1]]
            shift, wsize, levels = int(words[2], 0), int(words[3], 0), int(words[4], 0)
            if shift not in SHIFTS:
                note("line %d: page shift %d is not one the target draws: 12" % (self.lineno, shift))
                shift = 12
            if wsize and wsize & (wsize - 1) == 0 and wsize < 1 << 64:
                b = wsize.bit_length() - 1
            elif wsize == 0:
                b = 241
            elif wsize == 3 << 20:
                b = 240
            else:
                b = 31
                note("line %d: window size 0x%x is not one the target draws: 2 GiB" % (self.lineno, wsize))
            if self.emit([OP["create"], self.cont_byte(words[1]), SHIFTS.index(shift), b, levels % 7] +
                         self.argsz_flags(opts, 40)) and ok:
                start = int(opts.get("start", "0"), 0)
                # it_size is at least 512 entries (the model's max(W >> p, 512))
                self.c[k]["win"][1 if start >= SLOT1 else 0] = (shift, max(wsize, 512 << shift))
        elif verb == "remove":
            k = self.cont[words[1]]
            start = int(words[2], 0)
            if start in (0, SLOT1):
                data = [OP["remove"], self.cont_byte(words[1]), 1 if start else 0]
            else:
                iova, _ = self.iova(k, start)
                data = [OP["remove"], self.cont_byte(words[1]), 160] + iova
            if self.emit(data + self.argsz_flags(opts, 16)) and ok:
                self.c[k]["win"].pop(1 if start >= SLOT1 else 0, None)
        elif verb in ("enable", "disable"):
            self.emit([OP["info"], self.cont_byte(words[1]), 0x41 if verb == "enable" else 0x40])
        elif verb == "check_extension":
            self.emit([OP["info"], self.cont_byte(words[1]), byte_for(int(words[2], 0) % 12, 12, 0x80)])
        elif verb == "get_info":
            argsz = int(opts.get("argsz", 32))
            if argsz not in INFO_SIZES:
                note("line %d: get_info argsz %d: 32" % (self.lineno, argsz))
                argsz = 32
            self.emit([OP["info"], self.cont_byte(words[1]), INFO_SIZES.index(argsz)])
        elif verb == "memlock":
            limit, cap = int(words[1], 0), int(words[2], 0)
            if limit not in MEMLOCK:
                note("line %d: memlock 0x%x is not one the target draws: 64 MiB" % (self.lineno, limit))
                limit = 64 << 20
            lo = {0: 0, 1: 0xf0, 2: 0xe0}[cap]
            self.emit([OP["memlock"], byte_for(MEMLOCK.index(limit), 10, lo, lo + 15 if cap else 0xdf)])
        elif verb == "mprotect":
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\+(0x[0-9a-fA-F]+|\d+))?", words[1])
            if not m or m.group(1) not in self.mems:
                raise ValueError("mprotect outside the trace's memory")
            area, base = self.mems[m.group(1)]
            off = int(m.group(2) or "0", 0) - base
            n = int(words[2], 0) // PAGE
            if self.fuzz_style and (off < 0 or off // PAGE >= MEM_PAGES[area]):
                return              # a guard page: the target writes those lines itself
            self.emit([OP["mprotect"], area, {"rw": 0, "ro": 1, "none": 2}[words[3]], off // PAGE,
                       max(1, min(4, n)) - 1])
        else:
            note("line %d: %s: no such request in fuzz_container, left out" % (self.lineno, verb))

    # ---------------------------------------------------------------- trace
    def convert(self, lines):
        first_memlock = None
        body = []
        for self.lineno, raw in enumerate(lines, 1):
            line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
            if raw.strip() == "# cleanup" and self.fuzz_style:
                break
            if not line or "=>" not in line:
                continue
            req, res = [x.strip() for x in line.split("=>", 1)]
            words = req.split()
            res_words = res.split()
            result = res_words[0] if res_words else ""
            opts = dict(w.split("=", 1) for w in words[1:] + res_words[1:] if "=" in w)
            words = [w for w in words if "=" not in w]
            if words[0] == "mem":
                size = int(words[2], 0)
                m = re.fullmatch(r"m(\d)", words[1])
                if m and int(m.group(1)) < 3 and size == (MEM_PAGES[int(m.group(1))] + 2) * PAGE:
                    self.fuzz_style = True
                    self.mems[words[1]] = (int(m.group(1)), PAGE)
                else:
                    used = {a for a, _ in self.mems.values()}
                    fit = [a for a in (1, 0, 2) if MEM_PAGES[a] * PAGE >= size and a not in used] or \
                          [a for a in (2, 0, 1) if a not in used] or [2]
                    self.mems[words[1]] = (fit[0], 0)
                    if MEM_PAGES[fit[0]] * PAGE < size:
                        note("line %d: mem %s of 0x%x bytes gets the target's area of 0x%x" %
                             (self.lineno, words[1], size, MEM_PAGES[fit[0]] * PAGE))
                continue
            if words[0] in ("fill", "check", "poke64", "dma_read", "dma_write", "locked_vm", "pinned",
                            "api_version", "ioctl", "fork_expect"):
                continue
            if words[0] == "memlock" and first_memlock is None and not body:
                first_memlock = (int(words[1], 0), int(words[2], 0))
                continue
            body.append((self.lineno, words, opts, result))
        # The prologue: bare (bit 7), its memlock one of the four it draws.
        limit = first_memlock or (64 << 20, 0)
        if limit[1] == 0 and limit[0] in MEMLOCK_PROLOGUE:
            self.out.append(0x80 | MEMLOCK_PROLOGUE.index(limit[0]))
        else:
            self.out.append(0x80)
            body.insert(0, (0, ["memlock", hex(limit[0]), str(limit[1])], {}, "ok"))
        for self.lineno, words, opts, result in body:
            try:
                self.request(words, opts, result)
            except (ValueError, KeyError) as e:
                note("line %d: %s: left out (%s)" % (self.lineno, " ".join(words), e))
        if self.nreq >= MAX_REQUESTS:
            note("only the first %d requests fit in one input" % MAX_REQUESTS)
        return bytes(b & 0xff for b in self.out)


def main():
    if len(sys.argv) != 3 or sys.argv[1].startswith("-"):
        sys.exit("usage: trace2input.py TRACE OUTPUT   (TRACE - for stdin)")
    src = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
    data = Converter().convert(src.read().splitlines())
    with open(sys.argv[2], "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
