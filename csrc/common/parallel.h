/* Work distribution: fastconv's thread pool, the one place where ops run on several threads.
 *
 * An op describes its work as phases of independent tasks (pack the weights, then compute the
 * output tiles; check the indices, then scatter).  The caller and the pool's workers claim
 * tasks one at a time from a single atomic counter, in order, so a thread that starts late or is descheduled
 * by the OS simply claims fewer tasks: it costs its own share, never the whole op (a static
 * partition waited for the slowest thread; with one busy process beside it a 2-thread conv2d
 * ran 2-3x slower than on 1 thread).  A task of phase p starts only once every task of phase
 * p - 1 has completed; a thread that claimed it waits briefly, then sleeps in short naps, so a
 * descheduled thread that holds an earlier task gets the core back.
 *
 * Determinism: what a task computes depends only on (phase, task), never on the thread that
 * runs it or on when it runs, and every reduction runs inside one task in a fixed order (or
 * over tasks whose results are combined in a fixed order by a later phase).  Results are
 * therefore bitwise identical for any thread count and any schedule; `thread` only selects
 * that thread's scratch memory.  fc_set_schedule_test() makes the schedule adversarial for the
 * tests that check this.
 *
 * Waiting between ops is bounded too: idle workers spin ~50 us, then sleep (parallel.c).  The
 * thread count follows OpenMP's (common.c), but no OpenMP region runs. */
#ifndef FC_PARALLEL_H
#define FC_PARALLEL_H

#include <stdint.h>

/* One task: `thread` is in [0, threads) and is the index of the caller's scratch slot. */
typedef void (*fc_task_fn)(void *ctx, int64_t phase, int64_t task, int thread);

typedef struct fc_parallel_job {
    fc_task_fn run;
    void *ctx;
    int64_t phases;       /* >= 1 */
    const int64_t *tasks; /* tasks[phase] >= 0: the task count of each phase */
} fc_parallel_job;

/* Runs every task of the job exactly once on at most `threads` threads (the calling thread is
 * one of them) and returns when all have completed.  threads <= 1 runs them in the calling
 * thread without touching the pool. */
void fc_parallel_run(int threads, const fc_parallel_job *job);

/* The common case: one phase of `tasks` tasks. */
void fc_parallel_for(int threads, int64_t tasks, fc_task_fn run, void *ctx);

/* Task i of `count` equal parts of [0, total): the parts differ by at most one unit. */
static inline void fc_task_range(int64_t total, int64_t count, int64_t i, int64_t *begin,
                                 int64_t *end)
{
    const int64_t base = total / count, extra = total % count;
    *begin = i * base + (i < extra ? i : extra);
    *end = *begin + base + (i < extra ? 1 : 0);
}

/* How many tasks to cut `units` of work into (each unit costs about `unit_cost` of the
 * FC_MIN_WORK_PER_THREAD scale): enough tasks of at least `min_task` work that a late thread
 * leaves little behind, never more than there are units.  At least 1 for units >= 1. */
int64_t fc_task_count(int64_t units, int64_t unit_cost, int64_t min_task);

/* Elements per task of the elementwise ops (ReLU and its backward): 256 KiB of floats, some
 * 10 us of streaming, so the claims cost nothing and a late thread leaves little behind. */
#define FC_ELEMENTWISE_TASK ((int64_t)1 << 16)

/* Test hook: an adversarial schedule for the determinism tests (never for production).
 * FC_SCHEDULE_SHUFFLE runs the tasks of each phase in a pseudo-random order drawn from `seed`
 * (also on one thread); FC_SCHEDULE_DELAY makes the last thread of every team start 0.2 ms
 * late and every thread pause at random before some tasks.  0 restores the normal schedule.
 * Not for use while ops run in other threads. */
#define FC_SCHEDULE_SHUFFLE 1
#define FC_SCHEDULE_DELAY 2
void fc_set_schedule_test(int mode, uint64_t seed);
int fc_schedule_test_mode(void);

/* For the tests of this runtime: runs a job of `phases` phases of tasks[phase] tasks and
 * records, for task i of the global numbering (first_task[phase] + task, first_task filled
 * in), the order in which it started (started[i], 0-based) and the thread that ran it. */
void fc_probe_schedule(int threads, int64_t phases, const int64_t *tasks, int64_t *first_task,
                       int64_t *started, int64_t *thread);

#endif /* FC_PARALLEL_H */
