/* SPDX-License-Identifier: MIT */
/*
 * check_fuzz_corpus: replays every fuzz target's seed corpus
 * (tests/fuzz/corpus/<target>/) and kept regressions
 * (tests/fuzz/regressions/<target>/) through the target, without a fuzzing
 * engine: one Check test per target and quirks mode (fixed, then kernel:
 * docs/quirks.md), calling LLVMFuzzerTestOneInput on every file.  A divergence from the model aborts the target (it prints the
 * replay trace first), which fails the test.  Inputs of library bugs that
 * are not fixed yet wait in tests/fuzz/pending/<target>/, not replayed.
 *
 * Targets are compiled into this suite by #include, each with its entry
 * point renamed <target>_one_input, through fuzz_targets.h, which the
 * Makefile generates from the list of tests/fuzz/fuzz_*.c
 * (tests/fuzz/gen_targets.sh): a new target is picked up without a change
 * here, as long as its static names are its own (a target's helpers must
 * not clash with another's; what they share, tests/fuzz/harness.c, is
 * included once, here).  Paths are relative to the repository root, where `make
 * check` runs; SPAPRTCE_SRCDIR overrides it.
 *
 * The trace a target prints must replay: each input's trace (written to a
 * temporary file through SPAPRTCE_FUZZ_TRACE) is run by the build's own
 * `spaprtce replay` (build/spaprtce, one folder above this suite), which
 * must exit 0.  Without the program the inputs still run, and the suite
 * says that their traces were not replayed.
 *
 * The harness itself: a divergence names the line `spaprtce replay`
 * reports (a provoked one, replayed); its waits survive a SIGALRM every
 * millisecond (libFuzzer's timeout timer interrupts system calls: an
 * interrupted waitpid once passed for a dead child, a false divergence),
 * shown both on fz_waitpid alone and on the corpus inputs that fork.
 *
 * The trace-to-input converter (tests/fuzz/trace2input.py): the trace of
 * every fuzz_container seed and regression, converted back into an input,
 * must make the target print the same request lines.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "tests/testutil.h"

#include "tests/model/model.c"
#include "tests/fuzz/harness.c"

#include "fuzz_targets.h"

typedef int (*one_input_fn)(const uint8_t *data, size_t size);

/* The input being replayed, named on stderr if the target aborts. */
static char current[4096];
/* build[/san-x]/spaprtce, or "" */
static char replay_prog[PATH_MAX + 16];
static char trace_path[64];

/* The program next to the suite's folder: build[/san-x]/tests/.. */
static void locate_prog(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	replay_prog[0] = 0;
	if (n <= 0)
		return;
	exe[n] = 0;
	for (int k = 0; k < 2; k++) {
		slash = strrchr(exe, '/');
		if (!slash)
			return;
		*slash = 0;
	}
	snprintf(replay_prog, sizeof(replay_prog), "%s/spaprtce", exe);
	if (access(replay_prog, X_OK))
		replay_prog[0] = 0;
}

/* `spaprtce replay` of the trace the last input wrote; its exit status. */
static int replay_trace(void)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		if (fz_kernel)
			setenv("SPAPRTCE_MACHINE", "quirks=kernel", 1);
		execl(replay_prog, replay_prog, "replay", trace_path, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void on_abort(int sig)
{
	static const char msg[] = "check_fuzz_corpus: the target aborted on ";

	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, current, strlen(current)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of @dir through @fn, in name order; returns how many. */
static unsigned replay_dir(const char *dir, one_input_fn fn)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			ck_assert_ptr_nonnull(names);
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		uint8_t *buf;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		f = fopen(path, "rb");
		ck_assert_msg(f != NULL, "cannot open %s", path);
		buf = malloc(st.st_size ? (size_t)st.st_size : 1);
		ck_assert_ptr_nonnull(buf);
		ck_assert_uint_eq(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
		fclose(f);
		snprintf(current, sizeof(current), "%s", path);
		fn(buf, (size_t)st.st_size);
		free(buf);
		if (replay_prog[0]) {
			int rc = replay_trace();

			ck_assert_msg(rc == 0, "%s: its trace does not replay (spaprtce replay exit %d); "
				      "SPAPRTCE_FUZZ_TRACE=/tmp/t.trace on the target gives it", path, rc);
		}
		free(names[i]);
	}
	free(names);
	return (unsigned)n;
}

static void replay_target(const char *target, one_input_fn fn)
{
	const char *src = getenv("SPAPRTCE_SRCDIR");
	char dir[4096];
	unsigned seeds, regressions;

	if (!src || !*src)
		src = ".";
	signal(SIGABRT, on_abort);
	locate_prog();
	if (replay_prog[0]) {
		int fd;

		snprintf(trace_path, sizeof(trace_path), "/tmp/check_fuzz_corpus_XXXXXX.trace");
		fd = mkstemps(trace_path, 6);
		ck_assert_int_ge(fd, 0);
		close(fd);
		setenv("SPAPRTCE_FUZZ_TRACE", trace_path, 1);
	}
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src, target);
	seeds = replay_dir(dir, fn);
	ck_assert_msg(seeds > 0, "no seed corpus in %s", dir);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", src, target);
	regressions = replay_dir(dir, fn);
	printf("%s: %u seeds, %u regressions replayed; their traces %s\n", target, seeds, regressions,
	       replay_prog[0] ? "replayed by spaprtce replay" : "not replayed (no build/spaprtce)");
	if (replay_prog[0]) {
		unsetenv("SPAPRTCE_FUZZ_TRACE");
		unlink(trace_path);
	}
}

static const struct {
	const char *name;
	one_input_fn fn;
} targets[] = {
#define FUZZ_TARGET_ENTRY(t) { #t, t##_one_input },
	FUZZ_TARGET_LIST(FUZZ_TARGET_ENTRY)
#undef FUZZ_TARGET_ENTRY
};

/* ------------------------------------------------- the harness itself */

static void on_alarm(int sig)
{
	(void)sig;
}

/* SIGALRM every @usec microseconds (0: off), installed as libFuzzer does:
 * without SA_RESTART, so that it interrupts blocking system calls.  The
 * handler is in place before the timer starts and stays until it has
 * stopped: a tick between the two would otherwise kill the process. */
static void alarm_every(long usec)
{
	struct sigaction sa;
	struct itimerval it = { { 0, usec }, { 0, usec } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usec ? on_alarm : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (usec)
		ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	if (!usec)
		ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
}

/* A child that sleeps @ms milliseconds (through interruptions), then exits with @code. */
static pid_t sleepy_child(int ms, int code)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		struct timespec ts = { 0, ms * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		_exit(code);
	}
	return pid;
}

START_TEST(t_waitpid_retried)
{
	int st = 0;
	pid_t raw, pid;

	alarm_every(1000);
	/* The problem: a plain waitpid is interrupted. */
	raw = sleepy_child(50, 3);
	ck_assert_int_eq(waitpid(raw, &st, 0), -1);
	ck_assert_int_eq(errno, EINTR);
	/* The harness's wait is not: it retries and gets the real status. */
	pid = sleepy_child(50, 7);
	fz_eintr_retries = 0;
	ck_assert_int_eq(fz_waitpid(pid, &st), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 7);
	ck_assert_uint_gt(fz_eintr_retries, 0);
	ck_assert_int_eq(fz_waitpid(raw, &st), raw);
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	alarm_every(0);
	printf("fz_waitpid: %lu interrupted waits retried under a 1 ms SIGALRM\n", fz_eintr_retries);
}
END_TEST

/* Every fuzz_container seed and regression (`foreign` and `v1` fork a child
 * for a request) with a SIGALRM every millisecond: no false divergence. */
START_TEST(t_corpus_under_timer)
{
	char dir[4096];
	const char *src = getenv("SPAPRTCE_SRCDIR");
	unsigned n = 0;

	if (!src || !*src)
		src = ".";
	signal(SIGABRT, on_abort);
	unsetenv("SPAPRTCE_FUZZ_TRACE");
	replay_prog[0] = 0;
	fz_eintr_retries = 0;
	alarm_every(1000);
	for (int round = 0; round < 3; round++) {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/fuzz_container", src);
		n += replay_dir(dir, fuzz_container_one_input);
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/fuzz_container", src);
		n += replay_dir(dir, fuzz_container_one_input);
	}
	alarm_every(0);
	ck_assert_uint_gt(n, 0);
	printf("fuzz_container under a 1 ms SIGALRM: %u inputs, %lu interrupted system calls retried\n",
	       n, fz_eintr_retries);
	tu_assert_emu_clean();
}
END_TEST

/* ------------------------------------------------ trace2input round trip */

/* The whole of file @path (NUL-terminated), its length in @len. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

/* A guard page's `mprotect mI+OFF 0x1000 none` (the harness writes those itself). */
static bool guard_line(const char *l)
{
	unsigned i;
	unsigned long long off;

	if (sscanf(l, "mprotect m%u+0x%llx 0x1000 none", &i, &off) != 2 || i >= NMEMS)
		return false;
	return off == 0 || off == (mem_pages[i] + 1) * MODEL_PAGE_SIZE;
}

/* The request lines of a trace the converter carries over, up to `# cleanup`. */
static char *request_lines(const char *trace)
{
	static const char *const skip[] = { "#", "fill ", "check ", "dma_read ", "dma_write ", "locked_vm ",
					    "pinned ", "mem ", "poke64 ", "fork_expect ", "ioctl " };
	char *out = calloc(1, strlen(trace) + 1), *o = out;
	const char *l = trace;

	ck_assert_ptr_nonnull(out);
	while (*l && strncmp(l, "# cleanup", 9)) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) + 1 : strlen(l);
		bool keep = !guard_line(l);

		for (size_t k = 0; keep && k < sizeof(skip) / sizeof(skip[0]); k++)
			keep = strncmp(l, skip[k], strlen(skip[k])) != 0;
		if (keep) {
			memcpy(o, l, n);
			o += n;
		}
		l += n;
	}
	return out;
}

/* python3 tests/fuzz/trace2input.py @trace @input; its exit status. */
static int convert(const char *script, const char *trace, const char *input)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 2);	/* its notes: none expected, and the result says */
		execlp("python3", "python3", script, trace, input, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

START_TEST(t_trace2input_round_trip)
{
	static const char *const sub[] = { "corpus", "regressions" };
	const char *src = getenv("SPAPRTCE_SRCDIR");
	char script[4096], dir[4096], t1[] = "/tmp/check_t2i_a_XXXXXX", t2[] = "/tmp/check_t2i_b_XXXXXX",
	     in[] = "/tmp/check_t2i_in_XXXXXX";
	unsigned n = 0, lines = 0;

	if (!src || !*src)
		src = ".";
	fz_quirks_mode = 0;	/* one mode for both runs: a converted input may end differently */
	snprintf(script, sizeof(script), "%s/tests/fuzz/trace2input.py", src);
	if (system("python3 -c pass >/dev/null 2>&1")) {
		printf("SKIP t_trace2input_round_trip: python3 is not installed\n");
		return;
	}
	close(mkstemp(t1));
	close(mkstemp(t2));
	close(mkstemp(in));
	for (int d = 0; d < 2; d++) {
		struct dirent *de;
		DIR *dp;

		snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s/fuzz_container", src, sub[d]);
		dp = opendir(dir);
		ck_assert_ptr_nonnull(dp);
		while ((de = readdir(dp))) {
			char path[8192], *a, *b, *ra, *rb, *data;
			size_t len;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			data = slurp(path, &len);
			setenv("SPAPRTCE_FUZZ_TRACE", t1, 1);
			fuzz_container_one_input((const uint8_t *)data, len);
			free(data);
			ck_assert_msg(convert(script, t1, in) == 0, "trace2input failed on the trace of %s", path);
			data = slurp(in, &len);
			setenv("SPAPRTCE_FUZZ_TRACE", t2, 1);
			fuzz_container_one_input((const uint8_t *)data, len);
			free(data);
			a = slurp(t1, &len);
			b = slurp(t2, &len);
			ra = request_lines(a);
			rb = request_lines(b);
			ck_assert_msg(!strcmp(ra, rb), "%s: the converted trace prints\n%s\ninstead of\n%s", path, rb, ra);
			for (const char *c = ra; *c; c++)
				lines += *c == '\n';
			free(a);
			free(b);
			free(ra);
			free(rb);
			n++;
		}
		closedir(dp);
	}
	unsetenv("SPAPRTCE_FUZZ_TRACE");
	unlink(t1);
	unlink(t2);
	unlink(in);
	ck_assert_uint_gt(n, 0);
	printf("trace2input: %u fuzz_container traces converted, %u request lines printed again\n", n, lines);
	tu_assert_emu_clean();
}
END_TEST

static void no_checks(void)
{
}

/*
 * A divergence provoked on purpose (the model's EBADF against the
 * library's ok, after a memory area's lines) names the line at which
 * `spaprtce replay` of its trace reports it.
 */
START_TEST(t_divergence_names_replay_line)
{
	char err_path[] = "/tmp/check_fuzz_corpus_err_XXXXXX", tr_path[] = "/tmp/check_fuzz_corpus_tr_XXXXXX";
	char buf[8192], cmd[PATH_MAX + 256], want[64];
	unsigned named = 0, reported = 0;
	int efd = mkstemp(err_path), tfd = mkstemp(tr_path), st;
	const char *p;
	pid_t pid;
	FILE *f;
	size_t n;

	ck_assert_int_ge(efd, 0);
	ck_assert_int_ge(tfd, 0);
	close(tfd);
	locate_prog();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		static struct model m;

		dup2(efd, 2);
		setenv("SPAPRTCE_FUZZ_TRACE", tr_path, 1);
		model_init(&m);
		fz_begin("fuzz_selftest", (const uint8_t *)"", 0, "m", no_checks);
		fz_mem_map(&m, 0, 4, mem_pattern);
		fz_req("container c0");
		fz_done((struct model_res){ -1, EBADF }, (struct model_res){ 0, 0 });
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "the divergence did not abort");
	f = fopen(err_path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	p = strstr(buf, "divergence from the model at trace line ");
	ck_assert_msg(p && sscanf(p, "divergence from the model at trace line %u", &named) == 1,
		      "no line named in: %s", buf);
	snprintf(want, sizeof(want), "# DIVERGENCE at line %u: the library returned ok", named);
	ck_assert_msg(strstr(buf, want), "no '%s' in: %s", want, buf);
	/* mem, two guard-page mprotects after the input's comment: line 5. */
	ck_assert_uint_eq(named, 5);
	if (replay_prog[0]) {
		snprintf(cmd, sizeof(cmd), "%s replay %s 2>&1", replay_prog, tr_path);
		f = popen(cmd, "r");
		ck_assert_ptr_nonnull(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		ck_assert_int_eq(WEXITSTATUS(pclose(f)), 1);
		p = strstr(buf, tr_path);
		ck_assert_msg(p && sscanf(p + strlen(tr_path), ":%u:", &reported) == 1, "replay said: %s", buf);
		ck_assert_uint_eq(reported, named);
	} else {
		printf("t_divergence_names_replay_line: no build/spaprtce, the line is not replayed\n");
	}
	unlink(err_path);
	unlink(tr_path);
}
END_TEST

/* One loop iteration per target and quirks mode (_i / 2 the target, _i % 2 quirks=kernel). */
START_TEST(t_fuzz_target)
{
	fz_quirks_mode = _i % 2;
	printf("quirks=%s: ", fz_quirks_mode ? "kernel" : "fixed");
	replay_target(targets[_i / 2].name, targets[_i / 2].fn);
	tu_assert_emu_clean();
}
END_TEST

static Suite *fuzz_corpus_suite(void)
{
	Suite *s = suite_create("fuzz_corpus");
	TCase *tc = tcase_create("replay");

	fz_fork_one_in = 1;	/* every seed's foreign request forks (the fuzzers: one input in 8) */

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, t_fuzz_target, 0, 2 * (int)(sizeof(targets) / sizeof(targets[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("harness");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, t_waitpid_retried);
	tcase_add_test(tc, t_corpus_under_timer);
	tcase_add_test(tc, t_divergence_names_replay_line);
	tcase_add_test(tc, t_trace2input_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	tu_quirks_env_drop("check_fuzz_corpus");
	sr = srunner_create(fuzz_corpus_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
