/* SPDX-License-Identifier: MIT */
/*
 * The spaprtce program's replay and stats commands, run as a child process
 * on the traces of tests/traces/: every trace replays with exit status 0
 * except must-diverge.trace, which must stop with status 1 at its known
 * line; errors in a trace exit 2 with the line; --keep-going reports every
 * divergence; hypercall results read as H_* names; --json has the
 * documented keys; stats --after shows the windows a trace left programmed.
 * The details a user meets: numbers printed back in the base the trace
 * wrote them in, a NUL byte or an empty trace is an error (exit 2), a read
 * error is never the end of the file, `-` reads stdin, --keep-going
 * reports every syntax error.  --version gives the Makefile's VERSION, and
 * the usage texts and the accounting steps fit 80 columns (the demo, whose
 * steps print the same way, is `make run`'s: 1 GiB is too much here).
 *
 * The program is the build's own: this suite lives in build/tests/ (or
 * build/san-*\/tests/) and the program one folder up.  `make check` builds
 * it first; when it is missing, each test prints why and passes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

static char prog[PATH_MAX + 32];	/* .../spaprtce, or "" */
static char root[PATH_MAX + 32];	/* the folder holding tests/traces */

struct run {
	int status;		/* exit status, or 128 + signal */
	char *out;		/* stdout and stderr, interleaved */
};

static bool is_dir(const char *path)
{
	DIR *d = opendir(path);

	if (d)
		closedir(d);
	return d != NULL;
}

static void locate(void)
{
	char exe[PATH_MAX], try[PATH_MAX + 32], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	prog[0] = root[0] = 0;
	if (n <= 0)
		return;
	exe[n] = 0;
	/* build[/san-x]/tests/check_replay -> build[/san-x]/spaprtce */
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = 0;
	slash = strrchr(exe, '/');
	if (slash) {
		*slash = 0;
		snprintf(try, sizeof(try), "%s/spaprtce", exe);
		if (!access(try, X_OK))
			snprintf(prog, sizeof(prog), "%s", try);
	}
	/* The tree: the first ancestor with tests/traces, else the working folder. */
	for (;;) {
		snprintf(try, sizeof(try), "%s/tests/traces", exe);
		if (is_dir(try)) {
			snprintf(root, sizeof(root), "%s", exe);
			break;
		}
		slash = strrchr(exe, '/');
		if (!slash || slash == exe)
			break;
		*slash = 0;
	}
	if (!root[0] && is_dir("tests/traces") && getcwd(root, sizeof(root)) == NULL)
		root[0] = 0;
}

static bool have_prog(void)
{
	if (!prog[0] || !root[0]) {
		printf("check_replay: skipped: %s not found next to the suite (build it with make)\n",
		       !prog[0] ? "the spaprtce program" : "tests/traces");
		return false;
	}
	return true;
}

/* Runs spaprtce with @args (NULL-terminated) in the tree's root folder, stdin from @in (or inherited). */
static struct run run_prog_in(const char *const *args, const char *in)
{
	struct run r = { -1, NULL };
	size_t len = 0, cap = 4096;
	int pfd[2], st;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		const char *argv[16] = { prog };
		unsigned i;

		for (i = 0; args[i] && i < 14; i++)
			argv[i + 1] = args[i];
		argv[i + 1] = NULL;
		if (in) {
			int ifd = open(in, O_RDONLY);

			if (ifd < 0 || dup2(ifd, 0) < 0)
				_exit(125);
		}
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		if (chdir(root))
			_exit(126);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	r.out = malloc(cap);
	ck_assert_ptr_nonnull(r.out);
	while ((n = read(pfd[0], r.out + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			cap *= 2;
			r.out = realloc(r.out, cap);
			ck_assert_ptr_nonnull(r.out);
		}
	}
	r.out[len] = 0;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r;
}

static struct run run_prog(const char *const *args)
{
	return run_prog_in(args, NULL);
}

static void assert_has(const struct run *r, const char *what)
{
	ck_assert_msg(strstr(r->out, what), "output lacks \"%s\":\n%s", what, r->out);
}

/* A trace file of @len bytes of @text in a temporary folder; its path in @path. */
static void write_trace_len(char *path, size_t n, const char *text, size_t len)
{
	int fd;

	snprintf(path, n, "/tmp/check_replay_XXXXXX.trace");
	fd = mkstemps(path, 6);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void write_trace(char *path, size_t n, const char *text)
{
	write_trace_len(path, n, text, strlen(text));
}

/* Runs `spaprtce replay ARGS... FILE` on a trace of @text; exit status and output in the result. */
static struct run replay_text(char *path, size_t n, const char *text, size_t len, const char *opt)
{
	struct run r;

	write_trace_len(path, n, text, len);
	if (opt)
		r = run_prog((const char *const[]){ "replay", opt, path, NULL });
	else
		r = run_prog((const char *const[]){ "replay", path, NULL });
	unlink(path);
	return r;
}

/* @r's output is exactly @path followed by @rest. */
static void assert_out(const struct run *r, const char *path, const char *rest)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s%s", path, rest);
	ck_assert_msg(!strcmp(r->out, want), "output:\n%s\nexpected:\n%s", r->out, want);
}

/* ------------------------------------------------------------------ tests */

/*
 * The traces record quirks=fixed answers.  Under quirks=kernel (make check
 * QUIRKS=kernel) these traces diverge, each at exactly these lines, every
 * one a kernel quirk: Q3's UNREGISTER of a mapped region answers 0, so the
 * second UNREGISTER misses (ENOENT) and the orphan's pins and charge stay;
 * Q13's size-0 REGISTER is ENOMEM; Q1's misaligned iova +1; Q2's range
 * past the window is served up to the window's end; Q12's INDIRECT list
 * of zeros maps gpa 0's page without permission, a count no clear gives
 * back, so the region outlives its container.  Every other trace replays
 * in both modes.
 */
static const struct {
	const char *trace;
	unsigned n;
	const char *lines[8];
} kernel_divergences[] = {
	{ "dpdk.trace", 4, {
		":38: unregister c seg+0x600000 0x200000: expected EBUSY, got ok\n",
		":40: unregister c seg+0x600000 0x200000: expected ok, got ENOENT\n",
		":44: locked_vm: expected 0, got 512\n", ":45: pinned: expected 0, got 512\n" } },
	{ "hcall-fuzz.trace", 4, {
		":98: locked_vm: expected 0, got 256\n", ":99: pinned: expected 0, got 256\n",
		":102: locked_vm: expected 0, got 256\n", ":103: pinned: expected 0, got 256\n" } },
	{ "hcall.trace", 4, {
		":117: unregister c ram 0x400000: expected EBUSY, got ok\n",
		":159: unregister c ram 0x400000: expected ok, got ENOENT\n",
		":162: locked_vm: expected 0, got 1024\n", ":163: pinned: expected 0, got 1024\n" } },
	{ "kernel-checks.trace", 8, {
		":36: register c buf 0: expected EINVAL, got ENOMEM\n",
		":56: map c buf 0x800 0x1000 rw: expected EINVAL, got 1\n",
		":57: map c buf 0x7ffff000 0x2000 rw: expected EINVAL, got ok\n",
		":64: unregister c buf 0x100000: expected EBUSY, got ok\n",
		":73: unmap c 0x7ffff000 0x2000: expected EINVAL, got ok\n",
		":110: unregister c buf 0x100000: expected ok, got ENOENT\n",
		":115: locked_vm: expected 0, got 256\n", ":116: pinned: expected 0, got 256\n" } },
	{ "v2-basic.trace", 6, {
		":22: unregister c buf 0x400000: expected EBUSY, got ok\n",
		":26: unregister c buf 0x400000: expected ok, got ENOENT\n",
		":27: locked_vm: expected 2048, got 3072\n", ":28: pinned: expected 0, got 1024\n",
		":31: locked_vm: expected 0, got 1024\n", ":32: pinned: expected 0, got 1024\n" } },
};

/* Kernel mode: @name's divergences, every one, with --keep-going; false if it has none. */
static bool kernel_diverges(const char *name, const char *rel)
{
	char want[PATH_MAX + 128];
	struct run r;

	for (unsigned i = 0; i < sizeof(kernel_divergences) / sizeof(kernel_divergences[0]); i++) {
		if (strcmp(name, kernel_divergences[i].trace))
			continue;
		r = run_prog((const char *const[]){ "replay", "--keep-going", rel, NULL });
		ck_assert_msg(r.status == 1, "%s: exit %d, expected 1:\n%s", rel, r.status, r.out);
		for (unsigned k = 0; k < kernel_divergences[i].n; k++) {
			snprintf(want, sizeof(want), "%s%s", rel, kernel_divergences[i].lines[k]);
			assert_has(&r, want);
		}
		snprintf(want, sizeof(want), " %u divergences: FAIL", kernel_divergences[i].n);
		assert_has(&r, want);
		printf("check_replay: %s: %u divergences under quirks=kernel, as expected\n", rel,
		       kernel_divergences[i].n);
		free(r.out);
		return true;
	}
	return false;
}

START_TEST(t_every_trace_replays)
{
	char dir[sizeof(root) + 16];
	struct dirent *e;
	unsigned ntraces = 0;
	DIR *d;

	if (!have_prog())
		return;
	snprintf(dir, sizeof(dir), "%s/tests/traces", root);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char rel[PATH_MAX];
		struct run r;

		if (l < 7 || strcmp(e->d_name + l - 6, ".trace"))
			continue;
		snprintf(rel, sizeof(rel), "tests/traces/%s", e->d_name);
		if (tu_quirks_kernel("Q1, Q2, Q3, Q12, Q13") && kernel_diverges(e->d_name, rel)) {
			ntraces++;
			continue;
		}
		r = run_prog((const char *const[]){ "replay", rel, NULL });
		/* Its UNREGISTER of a mapped region: EBUSY, or the kernel's 0 (Q3), which replays. */
		if (!strcmp(e->d_name, "must-diverge.trace") && !tu_quirks_kernel("Q3"))
			ck_assert_msg(r.status == 1, "%s: exit %d, expected 1:\n%s", rel, r.status, r.out);
		else
			ck_assert_msg(r.status == 0, "%s: exit %d, expected 0:\n%s", rel, r.status, r.out);
		if (r.status == 0)
			assert_has(&r, "0 divergences: PASS");
		printf("check_replay: %s: exit %d\n", rel, r.status);
		free(r.out);
		ntraces++;
	}
	closedir(d);
	/* basic v2, kernel checks, DPDK, QEMU, v1, must-diverge, hcall at least */
	ck_assert_uint_ge(ntraces, 7);
}
END_TEST

START_TEST(t_must_diverge_names_its_line)
{
	struct run r;

	if (!have_prog())
		return;
	r = run_prog((const char *const[]){ "replay", "tests/traces/must-diverge.trace", NULL });
	if (tu_quirks_kernel("Q3")) {
		/* The kernel's UNREGISTER of a mapped region answers 0: no divergence. */
		ck_assert_int_eq(r.status, 0);
		assert_has(&r, ": 10 requests, 0 divergences: PASS");
		free(r.out);
		return;
	}
	ck_assert_int_eq(r.status, 1);
	assert_has(&r, "tests/traces/must-diverge.trace:14: unregister c buf 0x10000: expected ok, got EBUSY\n");
	/* it stops there: the line after is never run */
	assert_has(&r, ": 9 requests, 1 divergence: FAIL");
	free(r.out);
}
END_TEST

START_TEST(t_keep_going_reports_every_divergence)
{
	char path[64];
	struct run r;

	if (!have_prog())
		return;
	write_trace(path, sizeof(path),
		    "# two wrong expectations\n"
		    "container c => ok\n"
		    "api_version c => 1\n"
		    "\n"
		    "close c => EBADF\n"
		    "close c => EBADF\n");
	r = run_prog((const char *const[]){ "replay", "--keep-going", path, NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, ":3: api_version c: expected 1, got 0"));
	ck_assert_ptr_nonnull(strstr(r.out, ":5: close c: expected EBADF, got ok"));
	ck_assert_ptr_null(strstr(r.out, ":6:"));
	assert_has(&r, "4 requests, 2 divergences: FAIL");
	free(r.out);

	r = run_prog((const char *const[]){ "replay", path, NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_null(strstr(r.out, ":5:"));
	free(r.out);
	unlink(path);
}
END_TEST

START_TEST(t_trace_errors_exit_2_with_the_line)
{
	static const struct {
		const char *text, *what;
	} bad[] = {
		{ "container c => ok\n\n# comment\nfrobnicate c => ok\n", ":4: syntax error: unknown request 'frobnicate'" },
		{ "mem m 0x1000 => ok\nmem n 12z => ok\n", ":2: syntax error: bad number '12z'" },
		{ "container c => ok\nregister d 0 0x1000 => ok\n", ":2: syntax error: unknown container 'd'" },
		{ "container c => ok\nregister c nosuch 0x1000 => ok\n", ":2: syntax error: unknown memory name 'nosuch'" },
		{ "container c => ok\nclose c\n", ":2: syntax error: no '=> EXPECT'" },
		{ "container c => maybe\n", ":1: syntax error: bad expectation 'maybe'" },
		{ "container c => ok\nmap c 0 0 0x1000 rw => ok start=0\n", ":2: syntax error: no check 'start' for 'map'" },
		/* the guest path */
		{ "guest vm => ok\nh_put_tce vx 0x1000 0 3 => H_SUCCESS\n", ":2: syntax error: unknown guest 'vx'" },
		{ "container c => ok\nmemslot c 0 0 0x1000 0 => ok\n", ":2: syntax error: unknown guest 'c'" },
		{ "container c => ok\nguest c => ok\n", ":2: syntax error: 'c' is already of another kind" },
		{ "guest vm => ok\nh_get_tce vm 0x1000 0 => H_BOGUS\n",
		  ":2: syntax error: bad expectation 'H_BOGUS' for a hypercall (H_SUCCESS, H_PARAMETER, H_TOO_HARD, H_HARDWARE, a number)" },
		{ "guest vm => ok\nh_stuff_tce vm 0x1000 0 0 1 => ok\n", ":2: syntax error: bad expectation 'ok' for a hypercall" },
		{ "guest vm => ok\nguest_check vm => H_SUCCESS\n", ":2: syntax error: bad expectation 'H_SUCCESS' (ok, an errno name, a number)" },
		{ "guest vm => ok\nh_put_tce vm 1 0 3 => H_SUCCESS tce=3\n", ":2: syntax error: no check 'tce' for 'h_put_tce'" },
		{ "guest vm => ok\nmemslot vm 0 0 0x1000 => ok\n", ":2: syntax error: usage: memslot V SLOT GPA SIZE ADDR" },
		{ "guest vm => ok\nmem m 0x1000 => ok\nattach vm 1 m => ok\n", ":3: syntax error: unknown container or group 'm'" },
		{ "mem m 0x1000 => ok\npoke64 m => ok\n", ":2: syntax error: usage: poke64 ADDR VALUE..." },
		{ "mem m 0x1000 => ok\npoke64 m 1 2x => ok\n", ":2: syntax error: bad number '2x'" },
		/* a request without arguments given one (found by fuzz_replay: read before its spec) */
		{ "locked_vm 1 => 0\n", ":1: syntax error: usage: locked_vm" },
		{ "container c => ok\nregister c 0 => ok\n", ":2: syntax error: usage: register C ADDR SIZE [flags=N argsz=N]" },
	};
	char path[64];

	if (!have_prog())
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run r;

		write_trace(path, sizeof(path), bad[i].text);
		r = run_prog((const char *const[]){ "replay", path, NULL });
		ck_assert_msg(r.status == 2, "case %zu: exit %d:\n%s", i, r.status, r.out);
		assert_has(&r, path);
		assert_has(&r, bad[i].what);
		free(r.out);
		unlink(path);
	}
}
END_TEST

/* Hypercall results are H_* names; a check of H_GET_TCE's value; a guest that is gone. */
START_TEST(t_guest_path_divergences)
{
	char path[64];
	struct run r;

	if (!have_prog())
		return;
	write_trace(path, sizeof(path),
		    "guest vm => ok\n"
		    "tce_table vm 0x1000 12 0 16 => ok\n"
		    "h_put_tce vm 0x1000 0 0x1000 => H_SUCCESS\n"
		    "h_get_tce vm 0x1000 0 => H_SUCCESS tce=0x1000\n"
		    "h_put_tce vm 0x1001 0 0x1000 => H_SUCCESS\n"
		    "h_get_tce vm 0x1000 0 => H_SUCCESS tce=0x2000\n"
		    "h_get_tce vm 0x1000 0x800 => -4\n"
		    "h_get_tce vm 0x1000 0x800 => 9999\n"
		    "guest_destroy vm => ok\n"
		    "h_get_tce vm 0x1000 0 => H_SUCCESS\n"
		    "guest vm => ok\n"
		    "tce_table vm 0x1000 12 0 16 => ok\n");	/* left for the release */
	r = run_prog((const char *const[]){ "replay", "--keep-going", path, NULL });
	ck_assert_msg(r.status == 1, "exit %d:\n%s", r.status, r.out);
	assert_has(&r, ":5: h_put_tce vm 0x1001 0 0x1000: expected H_SUCCESS, got H_TOO_HARD\n");
	assert_has(&r, ":6: h_get_tce vm 0x1000 0: expected H_SUCCESS tce=0x2000, got H_SUCCESS tce=0x1000\n");
	assert_has(&r, ":8: h_get_tce vm 0x1000 0x800: expected H_TOO_HARD, got H_PARAMETER\n");
	assert_has(&r, ":10: h_get_tce vm 0x1000 0: expected H_SUCCESS, got no guest 'vm' "
		       "(its creation failed, or it was destroyed)\n");
	assert_has(&r, ": 12 requests, 4 divergences: FAIL");
	ck_assert_ptr_null(strstr(r.out, ":7:"));
	free(r.out);
	unlink(path);
}
END_TEST

START_TEST(t_json_shape)
{
	struct run r;
	char path[64];

	if (!have_prog())
		return;
	r = run_prog((const char *const[]){ "replay", "--json", "tests/traces/must-diverge.trace", NULL });
	ck_assert_int_eq(r.out[0], '{');
	assert_has(&r, "\"file\": \"tests/traces/must-diverge.trace\"");
	if (tu_quirks_kernel("Q3")) {
		/* The kernel's UNREGISTER of a mapped region answers 0: no divergence. */
		ck_assert_int_eq(r.status, 0);
		assert_has(&r, "\"divergences\": [], \"requests\": 10, \"verdict\": \"PASS\"}");
	} else {
		ck_assert_int_eq(r.status, 1);
		assert_has(&r, "\"divergences\": [");
		assert_has(&r, "{\"line\": 14, \"request\": \"unregister c buf 0x10000\", \"expected\": \"ok\", \"got\": \"EBUSY\"}");
		assert_has(&r, "\"requests\": 9");
		assert_has(&r, "\"verdict\": \"FAIL\"}");
	}
	free(r.out);

	/* A trace without a quirk's answer: it passes in both modes. */
	r = run_prog((const char *const[]){ "replay", "--json", "tests/traces/v2-left-mapped.trace", NULL });
	ck_assert_int_eq(r.status, 0);
	assert_has(&r, "\"divergences\": []");
	assert_has(&r, "\"verdict\": \"PASS\"}");
	free(r.out);

	write_trace(path, sizeof(path), "container c => ok\nnope\n");
	r = run_prog((const char *const[]){ "replay", "--json", path, NULL });
	ck_assert_int_eq(r.status, 2);
	assert_has(&r, "\"verdict\": \"ERROR\"");
	assert_has(&r, "\"error\": \"");
	assert_has(&r, ":2: syntax error");
	free(r.out);
	unlink(path);
}
END_TEST

START_TEST(t_stats_after_a_trace)
{
	struct run r;

	if (!have_prog())
		return;
	r = run_prog((const char *const[]){ "stats", "--after", "tests/traces/v2-left-mapped.trace", "--json", NULL });
	ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.out);
	assert_has(&r, "\"trace_verdict\": \"PASS\"");
	assert_has(&r, "{\"group\": 0, \"windows\": [{\"slot\": 0, \"bus_offset\": 0, \"page_shift\": 12, "
		       "\"levels\": 1, \"level_size\": 524288, \"entries\": 524288, \"tces_mapped\": 4}");
	assert_has(&r, "{\"slot\": 1, \"bus_offset\": 576460752303423488, \"page_shift\": 12, \"levels\": 1, "
		       "\"level_size\": 65536, \"entries\": 65536, \"tces_mapped\": 256}");
	assert_has(&r, "\"dma_writes\": 1");
	assert_has(&r, "\"no translation\": 1");
	assert_has(&r, "{\"group\": 1, \"windows\": []");
	assert_has(&r, "\"pinned_pages\": 512");
	assert_has(&r, "\"pinned_per_node\": {\"");
	free(r.out);

	/* an idle machine, for people */
	r = run_prog((const char *const[]){ "stats", NULL });
	ck_assert_int_eq(r.status, 0);
	assert_has(&r, "group 0\n  window 0      not programmed\n");
	free(r.out);

	/* a trace error stops it */
	r = run_prog((const char *const[]){ "stats", "--after", "tests/traces/nosuch.trace", NULL });
	ck_assert_int_eq(r.status, 2);
	free(r.out);
}
END_TEST

START_TEST(t_usage)
{
	struct run r;

	if (!have_prog())
		return;
	r = run_prog((const char *const[]){ "replay", "--help", NULL });
	ck_assert_int_eq(r.status, 0);
	assert_has(&r, "usage: spaprtce replay");
	free(r.out);
	r = run_prog((const char *const[]){ "replay", NULL });
	ck_assert_int_eq(r.status, 2);
	free(r.out);
	r = run_prog((const char *const[]){ "stats", "--help", NULL });
	ck_assert_int_eq(r.status, 0);
	assert_has(&r, "usage: spaprtce stats");
	free(r.out);
	r = run_prog((const char *const[]){ "--help", NULL });
	assert_has(&r, "replay FILE");
	assert_has(&r, "stats");
	free(r.out);
}
END_TEST

/* Numbers come back in the base the trace wrote them in. */
START_TEST(t_numbers_keep_their_base)
{
	static const char text[] =
		"memlock unlimited 0 => ok\n"
		"container c => ok\n"
		"api_version c => 0 locked_vm=20484\n"
		"api_version c => 0 locked_vm=0x5004\n"
		"locked_vm => 0x10\n"
		"locked_vm => 16\n";
	char path[64];
	struct run r;

	if (!have_prog())
		return;
	r = replay_text(path, sizeof(path), text, sizeof(text) - 1, "--keep-going");
	ck_assert_msg(r.status == 1, "exit %d:\n%s", r.status, r.out);
	ck_assert_ptr_nonnull(strstr(r.out, ":3: api_version c: expected 0 locked_vm=20484, got 0 locked_vm=0\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ":4: api_version c: expected 0 locked_vm=0x5004, got 0 locked_vm=0\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ":5: locked_vm: expected 0x10, got 0\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ":6: locked_vm: expected 16, got 0\n"));
	ck_assert_ptr_nonnull(strstr(r.out, ": 6 requests, 4 divergences: FAIL\n"));
	free(r.out);
}
END_TEST

/* A NUL byte is a syntax error with its line, wherever it is (it used to end the line silently). */
START_TEST(t_nul_byte_is_a_syntax_error)
{
	/* line 3 diverges; a NUL at its start used to hide it (exit 0) */
	static const char diverging[] = "container c => ok\n# a comment\n\0api_version c => 1\n";
	static const char middle[] = "container c => ok\nclose c => ok\0 garbage\n";
	static const char nuls[16] = { 0 };
	char path[64];
	struct run r;

	if (!have_prog())
		return;
	r = replay_text(path, sizeof(path), diverging, sizeof(diverging) - 1, NULL);
	ck_assert_int_eq(r.status, 2);
	assert_out(&r, path, ":3: syntax error: a NUL byte at column 1\n");
	free(r.out);
	r = replay_text(path, sizeof(path), middle, sizeof(middle) - 1, NULL);
	ck_assert_int_eq(r.status, 2);
	assert_out(&r, path, ":2: syntax error: a NUL byte at column 14\n");
	free(r.out);
	/* a file of NULs (what /dev/zero gives) is not a passing trace */
	r = replay_text(path, sizeof(path), nuls, sizeof(nuls), NULL);
	ck_assert_int_eq(r.status, 2);
	assert_out(&r, path, ":1: syntax error: a NUL byte at column 1\n");
	free(r.out);
}
END_TEST

/* A read error is an error, not the end of the file; a file that does not exist too. */
START_TEST(t_read_error_is_an_error)
{
	struct run r;

	if (!have_prog())
		return;
	r = run_prog((const char *const[]){ "replay", "tests/traces", NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "tests/traces: read error: Is a directory\n");
	free(r.out);
	r = run_prog((const char *const[]){ "replay", "--json", "tests/traces", NULL });
	ck_assert_int_eq(r.status, 2);
	assert_has(&r, "\"verdict\": \"ERROR\", \"error\": \"tests/traces: read error: Is a directory\"");
	free(r.out);
	/* a read that fails (EIO at offset 0 of the program's own address space) */
	r = run_prog((const char *const[]){ "replay", "/proc/self/mem", NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "/proc/self/mem: read error: Input/output error\n");
	free(r.out);
	r = run_prog((const char *const[]){ "replay", "tests/traces/nosuch.trace", NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "tests/traces/nosuch.trace: No such file or directory\n");
	free(r.out);
}
END_TEST

/* A trace without a request is an error, not a pass of 0 requests. */
START_TEST(t_empty_trace_is_an_error)
{
	static const char *const texts[] = { "", "\n\n", "# only a comment\n   \t\n" };
	char path[64];

	if (!have_prog())
		return;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct run r = replay_text(path, sizeof(path), texts[i], strlen(texts[i]), NULL);

		ck_assert_msg(r.status == 2, "case %zu: exit %d:\n%s", i, r.status, r.out);
		assert_out(&r, path, ": no request in the trace (an empty trace is an error)\n");
		free(r.out);
	}
}
END_TEST

/* `-` is standard input. */
START_TEST(t_dash_reads_stdin)
{
	char path[64];
	struct run r;

	if (!have_prog())
		return;
	write_trace(path, sizeof(path), "container c => ok\napi_version c => 1\n");
	r = run_prog_in((const char *const[]){ "replay", "-", NULL }, path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "<stdin>:2: api_version c: expected 1, got 0\n"
				"<stdin>: 2 requests, 1 divergence: FAIL\n");
	free(r.out);
	r = run_prog_in((const char *const[]){ "replay", "--json", "-", NULL }, path);
	ck_assert_int_eq(r.status, 1);
	assert_has(&r, "{\"file\": \"-\", \"divergences\": [\n  {\"line\": 2, ");
	free(r.out);
	unlink(path);
	r = run_prog_in((const char *const[]){ "replay", "-", NULL }, "/dev/null");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "<stdin>: no request in the trace (an empty trace is an error)\n");
	free(r.out);
}
END_TEST

/* --keep-going reports every syntax error (and runs nothing); without it, the first only. */
START_TEST(t_keep_going_collects_syntax_errors)
{
	static const char text[] =
		"container c => ok\n"
		"frobnicate c => ok\n"
		"mem m 12z => ok\n"
		"register c m 0x1000 => ok\n"	/* m is defined: no error here */
		"close c\n"
		"api_version c => 1\n";	/* would diverge: never runs */
	char path[64];
	struct run r;

	if (!have_prog())
		return;
	r = replay_text(path, sizeof(path), text, sizeof(text) - 1, "--keep-going");
	ck_assert_int_eq(r.status, 2);
	{
		char want[1024];

		snprintf(want, sizeof(want),
			 "%1$s:2: syntax error: unknown request 'frobnicate'\n"
			 "%1$s:3: syntax error: bad number '12z'\n"
			 "%1$s:5: syntax error: no '=> EXPECT' at the end of the request\n", path);
		ck_assert_str_eq(r.out, want);
	}
	free(r.out);
	r = replay_text(path, sizeof(path), text, sizeof(text) - 1, NULL);
	ck_assert_int_eq(r.status, 2);
	assert_out(&r, path, ":2: syntax error: unknown request 'frobnicate'\n");
	free(r.out);
	r = replay_text(path, sizeof(path), text, sizeof(text) - 1, "--json");
	ck_assert_int_eq(r.status, 2);
	assert_has(&r, "\"errors\": [\"");
	ck_assert_ptr_null(strstr(r.out, ":3: syntax error"));
	free(r.out);
}
END_TEST

/* Every line of @r's output is at most 80 columns. */
static void assert_fits_80(const struct run *r, const char *what)
{
	const char *line = r->out;

	while (*line) {
		size_t n = strcspn(line, "\n");

		ck_assert_msg(n <= 80, "%s: a line of %zu columns:\n%.*s", what, n, (int)n, line);
		line += n + (line[n] == '\n');
	}
}

/* --version and -V print the Makefile's VERSION; what people read fits 80 columns. */
START_TEST(t_version_and_width)
{
	static const char *const cmds[][3] = {
		{ "--help" }, { "replay", "--help" }, { "stats", "--help" }, { "demo", "--help" },
		{ "accounting", "--help" }, { "accounting" },
	};
	char mk[PATH_MAX + 48], line[256], want[128] = "";
	struct run r;
	FILE *f;

	if (!have_prog())
		return;
	snprintf(mk, sizeof(mk), "%s/Makefile", root);
	f = fopen(mk, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VERSION := %100s", want + 9) == 1)
			memcpy(want, "spaprtce ", 9);
	fclose(f);
	ck_assert_msg(want[0], "no VERSION := in %s", mk);
	strcat(want, "\n");
	r = run_prog((const char *const[]){ "--version", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, want);
	free(r.out);
	r = run_prog((const char *const[]){ "-V", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, want);
	free(r.out);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = run_prog((const char *const[]){ cmds[i][0], cmds[i][1], NULL });
		ck_assert_msg(r.status == 0, "%s %s: exit %d:\n%s", cmds[i][0], cmds[i][1] ? cmds[i][1] : "",
			      r.status, r.out);
		assert_fits_80(&r, cmds[i][0]);
		free(r.out);
	}
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *t = tcase_create("program");

	tcase_set_timeout(t, 300);
	tcase_add_test(t, t_every_trace_replays);
	tcase_add_test(t, t_must_diverge_names_its_line);
	tcase_add_test(t, t_keep_going_reports_every_divergence);
	tcase_add_test(t, t_trace_errors_exit_2_with_the_line);
	tcase_add_test(t, t_guest_path_divergences);
	tcase_add_test(t, t_json_shape);
	tcase_add_test(t, t_stats_after_a_trace);
	tcase_add_test(t, t_usage);
	tcase_add_test(t, t_numbers_keep_their_base);
	tcase_add_test(t, t_nul_byte_is_a_syntax_error);
	tcase_add_test(t, t_read_error_is_an_error);
	tcase_add_test(t, t_empty_trace_is_an_error);
	tcase_add_test(t, t_dash_reads_stdin);
	tcase_add_test(t, t_keep_going_collects_syntax_errors);
	tcase_add_test(t, t_version_and_width);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	locate();
	return tu_run(replay_suite());
}
