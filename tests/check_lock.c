/* SPDX-License-Identifier: MIT */
/*
 * util/lock.h's debug locks and the lock assertions of spapr/.
 *
 *   held       a mutex, a write lock and a read lock are "held" exactly by
 *              the thread that took them, between lock and unlock; another
 *              thread holding them does not count; a thread holding more
 *              read locks than it tracks never fails an assertion wrongly.
 *   slots      the rwlock's per-thread record of read holds, kept by the
 *              inline common case and the out-of-line rest alike: a first
 *              and a second lock take slots 0 and 1, a recursive hold and
 *              a third lock go out of line (depth 2, slot 2), unlocks in
 *              the reverse order and out of order leave the exact slots
 *              and count, and a writer then gets each lock at once.
 *   fires      a forked child that breaks a rule dies of SIGABRT: an
 *              assertion on a lock it does not hold; unlocking a read lock
 *              it does not hold; and, through spapr/, a function whose
 *              comment says "under tc->lock" (spapr__tce_container_bind_mm),
 *              "under group_lock (write)" (the group attach), "under the
 *              window's write_lock" (spapr__window_clear) and "under
 *              guest->lock" (spapr__guest_table_find) called without it.
 *              The same calls with the lock held return normally.
 *
 * The suite is built with SPAPRTCE_DEBUG, like every suite: in release
 * builds the assertions compile to nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spapr/guest_priv.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"
#include "util/lock.h"

#ifndef SPAPRTCE_DEBUG
#error "check_lock needs SPAPRTCE_DEBUG (the test build)"
#endif

/* Runs @fn(@ctx) in a forked child; returns the signal that ended it, 0 for a normal exit 0. */
static int in_child(void (*fn)(void *ctx), void *ctx)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		/* The assertion's message is expected: keep the suite's output clean. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		fn(ctx);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	return 0;
}

/* ---------------------------------------------------------------- held */

static struct util_mutex M = UTIL_MUTEX_INIT;
static struct util_rwlock RW;

static void *other_holds(void *arg)
{
	(void)arg;
	ck_assert(!util_mutex_held(&M));
	ck_assert(!util_rwlock_held(&RW));
	ck_assert(!util_rwlock_wrheld(&RW));
	return NULL;
}

START_TEST(t_held)
{
	pthread_t th;

	util_rwlock_init(&RW);
	ck_assert(!util_mutex_held(&M));
	util_mutex_lock(&M);
	ck_assert(util_mutex_held(&M));
	util_mutex_assert_held(&M);
	ck_assert_int_eq(pthread_create(&th, NULL, other_holds, NULL), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	util_mutex_unlock(&M);
	ck_assert(!util_mutex_held(&M));

	util_rwlock_rdlock(&RW);
	ck_assert(util_rwlock_held(&RW));
	ck_assert(!util_rwlock_wrheld(&RW));
	ck_assert_int_eq(pthread_create(&th, NULL, other_holds, NULL), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	util_rwlock_unlock(&RW);
	ck_assert(!util_rwlock_held(&RW));

	util_rwlock_wrlock(&RW);
	ck_assert(util_rwlock_held(&RW));
	ck_assert(util_rwlock_wrheld(&RW));
	util_rwlock_assert_wrheld(&RW);
	ck_assert_int_eq(pthread_create(&th, NULL, other_holds, NULL), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	util_rwlock_unlock(&RW);
	ck_assert(!util_rwlock_wrheld(&RW));
	util_rwlock_destroy(&RW);
}
END_TEST

/* More read locks at once than the thread tracks: none is reported missing. */
START_TEST(t_held_many_readers)
{
	struct util_rwlock l[UTIL_LOCK_READ_MAX + 2];

	for (unsigned i = 0; i < UTIL_LOCK_READ_MAX + 2; i++) {
		util_rwlock_init(&l[i]);
		util_rwlock_rdlock(&l[i]);
	}
	for (unsigned i = 0; i < UTIL_LOCK_READ_MAX + 2; i++)
		ck_assert(util_rwlock_held(&l[i]));
	for (unsigned i = UTIL_LOCK_READ_MAX + 2; i-- > 0;) {
		util_rwlock_unlock(&l[i]);
		util_rwlock_destroy(&l[i]);
	}
	util_rwlock_init(&l[0]);
	ck_assert(!util_rwlock_held(&l[0]));	/* back to exact tracking */
	util_rwlock_destroy(&l[0]);
}
END_TEST

/* The slots and their count after each step (util/lock.h util__rw_reader). */
START_TEST(t_read_slots)
{
	struct util_rwlock a, b, c;
	struct util__rw_reader *r;

	util_rwlock_init(&a);
	util_rwlock_init(&b);
	util_rwlock_init(&c);
	util_rwlock_rdlock(&a);
	r = util__rw_self;
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n, 1);
	ck_assert_ptr_eq(r->held[0], &a);
	util_rwlock_rdlock(&b);			/* inline: the second lock */
	ck_assert_uint_eq(r->n, 2);
	ck_assert_ptr_eq(r->held[1], &b);
	ck_assert_uint_eq(r->depth[1], 1);
	util_rwlock_rdlock(&b);			/* recursive: out of line */
	ck_assert_uint_eq(r->n, 2);
	ck_assert_uint_eq(r->depth[1], 2);
	util_rwlock_rdlock(&c);			/* a third: out of line */
	ck_assert_uint_eq(r->n, 3);
	ck_assert_ptr_eq(r->held[2], &c);
	util_rwlock_unlock(&c);			/* inline: the last slot */
	ck_assert_uint_eq(r->n, 2);
	ck_assert_ptr_null(r->held[2]);
	util_rwlock_unlock(&b);			/* depth 2: out of line */
	ck_assert_uint_eq(r->n, 2);
	ck_assert_uint_eq(r->depth[1], 1);
	util_rwlock_unlock(&a);			/* out of order: a hole below n */
	ck_assert_uint_eq(r->n, 2);
	ck_assert_ptr_null(r->held[0]);
	util_rwlock_unlock(&b);			/* inline: n shrinks past the hole */
	ck_assert_uint_eq(r->n, 0);
	ck_assert_ptr_null(r->held[1]);
	util_rwlock_rdlock(&b);
	util_rwlock_rdlock(&a);
	ck_assert_uint_eq(r->n, 2);
	ck_assert_ptr_eq(r->held[0], &b);
	ck_assert_ptr_eq(r->held[1], &a);
	util_rwlock_unlock(&a);
	util_rwlock_unlock(&b);
	ck_assert_uint_eq(r->n, 0);
	/* No slot names them: a writer does not wait (a leaked slot would hang here). */
	util_rwlock_wrlock(&a);
	util_rwlock_wrlock(&b);
	util_rwlock_wrlock(&c);
	ck_assert(util_rwlock_wrheld(&a) && util_rwlock_wrheld(&b) && util_rwlock_wrheld(&c));
	util_rwlock_unlock(&c);
	util_rwlock_unlock(&b);
	util_rwlock_unlock(&a);
	ck_assert_uint_eq(r->n, 0);
	util_rwlock_destroy(&a);
	util_rwlock_destroy(&b);
	util_rwlock_destroy(&c);
}
END_TEST

/* --------------------------------------------------------------- fires */

static void assert_mutex(void *ctx)
{
	(void)ctx;
	util_mutex_assert_held(&M);
}

static void assert_rwlock_write(void *ctx)
{
	struct util_rwlock *l = ctx;

	util_rwlock_rdlock(l);
	util_rwlock_assert_held(l);	/* passes: read side */
	util_rwlock_assert_wrheld(l);	/* fires */
}

static void unlock_unheld(void *ctx)
{
	util_rwlock_unlock(ctx);
}

START_TEST(t_fires_util)
{
	struct util_rwlock l;

	util_rwlock_init(&l);
	ck_assert_int_eq(in_child(assert_mutex, NULL), SIGABRT);
	ck_assert_int_eq(in_child(assert_rwlock_write, &l), SIGABRT);
	ck_assert_int_eq(in_child(unlock_unheld, &l), SIGABRT);
	util_rwlock_destroy(&l);
}
END_TEST

static struct spapr_container *container_of_fd(int fd)
{
	struct spapr_obj *obj = spapr__fd_get(fd);

	ck_assert_ptr_nonnull(obj);
	ck_assert_int_eq(obj->kind, SPAPR_KIND_CONTAINER);
	spapr__obj_put(obj);	/* the fd keeps it */
	return (struct spapr_container *)obj;
}

static void bind_unlocked(void *ctx)
{
	struct spapr_tce_container *tc = ctx;

	spapr__tce_container_bind_mm(tc);
}

static void bind_locked(void *ctx)
{
	struct spapr_tce_container *tc = ctx;

	util_mutex_lock(&tc->lock);
	if (spapr__tce_container_bind_mm(tc))
		_exit(4);
	util_mutex_unlock(&tc->lock);
}

static void attach_read_locked(void *ctx)
{
	struct spapr_container *c = ctx;

	/* The read side is not enough for "under group_lock (write)". */
	util_rwlock_rdlock(&c->group_lock);
	spapr__tce_container_detach_group(c->tc, c->groups[0]);
}

static void clear_unlocked(void *ctx)
{
	struct spapr_container *c = ctx;
	struct spapr_window *w = c->tc->windows[0];

	util_rwlock_rdlock(&c->group_lock);
	spapr__window_clear(w, w->start >> w->page_shift, 1);
}

static void clear_locked(void *ctx)
{
	struct spapr_container *c = ctx;
	struct spapr_window *w = c->tc->windows[0];

	util_rwlock_rdlock(&c->group_lock);
	util_mutex_lock(&w->write_lock);
	spapr__window_clear(w, w->start >> w->page_shift, 1);
	util_mutex_unlock(&w->write_lock);
	util_rwlock_unlock(&c->group_lock);
}

static void find_unlocked(void *ctx)
{
	spapr__guest_table_find(ctx, 1);
}

START_TEST(t_fires_spapr)
{
	struct spapr_tce_container *tc;
	struct spapr_container *c;
	struct spapr_guest *guest;
	int gfd, cfd = tu_open_v2(0, &gfd);
	uint64_t start;

	c = container_of_fd(cfd);
	tc = c->tc;
	ck_assert_ptr_nonnull(tc);
	ck_assert_int_eq(in_child(bind_unlocked, tc), SIGABRT);
	ck_assert_int_eq(in_child(bind_locked, tc), 0);
	ck_assert_int_eq(in_child(attach_read_locked, c), SIGABRT);
	/* A window: the default one, created by a TCE_CREATE of the second slot. */
	TU_OK(tu_create(cfd, 16, 1ull << 30, 1, &start));
	ck_assert_ptr_nonnull(tc->windows[0]);
	ck_assert_int_eq(in_child(clear_unlocked, c), SIGABRT);
	ck_assert_int_eq(in_child(clear_locked, c), 0);
	TU_OK(spapr_guest_create(&guest) ? -errno : 0);
	ck_assert_int_eq(in_child(find_unlocked, guest), SIGABRT);
	spapr_guest_destroy(guest);
	TU_OK(spapr_close(gfd) ? -errno : 0);
	TU_OK(spapr_close(cfd) ? -errno : 0);
	tu_assert_emu_clean();
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *t = tcase_create("held");
	TCase *f = tcase_create("fires");

	tcase_add_test(t, t_held);
	tcase_add_test(t, t_held_many_readers);
	tcase_add_test(t, t_read_slots);
	tcase_add_test(f, t_fires_util);
	tcase_add_test(f, t_fires_spapr);
	suite_add_tcase(s, t);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	return tu_run(lock_suite());
}
