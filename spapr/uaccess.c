/* SPDX-License-Identifier: MIT */
/*
 * Copies of the caller's memory that fail like copy_from_user/copy_to_user.
 *
 * A request's argument pointer is untrusted, exactly as an ioctl argument
 * is for the kernel: a bad one must give EFAULT, not crash the process.
 * The safe way is process_vm_readv/writev on ourselves, which checks the
 * pages in the kernel and fails with EFAULT.  But that is a system call
 * with a page-table walk and a page pin behind it (about 300 ns here, four
 * times a plain system call, and a getpid() besides), paid by every
 * request, while the request itself, a one-page MAP_DMA, costs less.  So
 * there is a fast path, and the question is what can be known to be
 * readable without asking the kernel.
 *
 * The choices, and why this one:
 *
 *   - A cache of pages known to be readable (filled by earlier successful
 *     copies): unsound.  The program may munmap or mprotect a page at any
 *     time without telling us, and then a direct read crashes where the
 *     kernel would say EFAULT (check_spapr_abi passes exactly such pointers).
 *   - mincore() or another probing system call: still a system call per
 *     request, and mincore does not even say whether a page is readable.
 *   - A read under sigsetjmp with a SIGSEGV handler of ours: a library
 *     cannot own SIGSEGV.  The program's handler, a sanitizer's or a
 *     runtime's (a JVM, Go) may be installed after ours and not chain; a
 *     thread may block the signal (then a fault kills the process); and the
 *     handler is process-wide state that a preloaded shim would add to
 *     every program it runs under.
 *   - Memory that is readable by construction: the live part of the calling
 *     thread's own stack, from its current stack pointer up to the top of
 *     its stack.  The frames of every caller up the chain live there, so it
 *     is mapped and writable as long as the thread runs; no program can take
 *     it away and survive.  And it is where real clients keep the argument:
 *     QEMU's and DPDK's MAP_DMA and UNMAP_DMA structs are locals.
 *
 * So an argument that lies wholly in [stack pointer, stack top) of the
 * calling thread is copied with memcpy; anything else (heap, globals, a
 * pointer crossing the stack's top, NULL) goes through process_vm_readv as
 * before, with the same EFAULT.  The stack's bounds come from
 * pthread_getattr_np once per thread (thread-local); the fast path applies
 * only while the stack pointer lies within them, so code running on another
 * stack (a coroutine's, a signal's alternate stack) takes the system call.
 * The stack pointer is the frame address of the copy function (the public
 * entry, not inlined): everything above it belongs to live frames.  Copies out
 * use the same test (the live stack is writable).  Each copy is still a
 * fault-injection point, checked before either path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

/* This thread's stack: [lo, hi); lo == hi == 1 when unknown (no fast path); hi 0: not asked yet. */
struct stack_bounds {
	uintptr_t lo, hi;
};

/* Initial-exec: one load from the thread pointer, also in the shared library (no __tls_get_addr). */
static __thread struct stack_bounds stack_self __attribute__((tls_model("initial-exec")));

static __attribute__((noinline, cold)) void stack_bounds_init(struct stack_bounds *s)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	s->lo = s->hi = 1;
	if (pthread_getattr_np(pthread_self(), &attr))
		return;
	if (!pthread_attr_getstack(&attr, &addr, &size) && addr && size) {
		s->lo = (uintptr_t)addr;
		s->hi = (uintptr_t)addr + size;
	}
	pthread_attr_destroy(&attr);
}

/*
 * Is [p, p + len) inside the live part of this thread's stack?  @sp is the
 * frame address of spapr__copy_in or spapr__copy_out, which are not
 * inlined: everything at or above it belongs to live frames (theirs and
 * their callers').
 */
static inline bool on_live_stack(uintptr_t p, uint64_t len, uintptr_t sp)
{
	struct stack_bounds *s = &stack_self;

	if (__builtin_expect(!s->hi, 0))
		stack_bounds_init(s);
	return sp >= s->lo && sp < s->hi && p >= sp && p < s->hi && len <= s->hi - p;
}

/*
 * The fast path's copy: byte by byte, out of the sanitizers' sight.  Like
 * the kernel's copy, it reads what the request's size says, which may run
 * past the caller's object into the next one on its stack: memory that is
 * there (on_live_stack), but that AddressSanitizer would report as another
 * object's.  Arguments are a few dozen bytes: a loop is as fast as a call
 * (the byte loop's volatile keeps the compiler from making it one).
 */
__attribute__((no_sanitize_address, no_sanitize_thread, noinline))
static void stack_copy(void *dst, const void *src, uint64_t len)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	uint64_t i = 0, w;

	/* Eight bytes at a time: a constant-size builtin is one move, never a call. */
	for (; i + 8 <= len; i += 8) {
		__builtin_memcpy(&w, s + i, 8);
		__builtin_memcpy(d + i, &w, 8);
	}
	for (; i < len; i++)
		((volatile unsigned char *)d)[i] = s[i];
}

/* The slow path: the kernel checks the pages (EFAULT). */
static __attribute__((noinline)) int copy_syscall(void *local, void *remote, uint64_t len, bool out)
{
	struct iovec l = { local, (size_t)len }, r = { remote, (size_t)len };
	ssize_t n;

	n = out ? process_vm_writev(getpid(), &l, 1, &r, 1, 0) : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* @sp: the frame address of the public entry (not inlined), see on_live_stack. */
static inline __attribute__((always_inline)) int copy(void *local, void *remote, uint64_t len, bool out,
							 uintptr_t sp)
{
	if (!len)
		return 0;
	if (!remote || util_should_fail(out ? "spapr_copy_out" : "spapr_copy_in"))
		return -EFAULT;
	if (!on_live_stack((uintptr_t)remote, len, sp))
		return copy_syscall(local, remote, len, out);
	if (out)
		stack_copy(remote, local, len);
	else
		stack_copy(local, remote, len);
	return 0;
}

__attribute__((noinline)) int spapr__copy_in(void *dst, const void *user, uint64_t len)
{
	return copy(dst, (void *)(uintptr_t)user, len, false, (uintptr_t)__builtin_frame_address(0));
}

__attribute__((noinline)) int spapr__copy_out(void *user, const void *src, uint64_t len)
{
	return copy((void *)(uintptr_t)src, user, len, true, (uintptr_t)__builtin_frame_address(0));
}
