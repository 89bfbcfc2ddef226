/* Work distribution: dynamic task claiming inside one OpenMP region (see parallel.h). */
#define _POSIX_C_SOURCE 200809L /* nanosleep, clock_gettime */
#include <time.h>

#include "common/internal.h"
#include "common/parallel.h"

static int schedule_test_mode = 0;
static uint64_t schedule_test_seed = 0;

void fc_set_schedule_test(int mode, uint64_t seed)
{
    schedule_test_seed = seed;
    __atomic_store_n(&schedule_test_mode, mode, __ATOMIC_RELAXED);
}

int fc_schedule_test_mode(void) { return __atomic_load_n(&schedule_test_mode, __ATOMIC_RELAXED); }

int64_t fc_task_count(int64_t units, int64_t unit_cost, int64_t min_task)
{
    if (units <= 0) return 0;
    const int64_t tasks = fc_mul_saturating(units, fc_max_i64(unit_cost, 1)) /
                          fc_max_i64(min_task, 1);
    return fc_max_i64(1, fc_min_i64(units, tasks));
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void nap(long nanoseconds)
{
    struct timespec ts = {0, nanoseconds};
    nanosleep(&ts, NULL);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits until `target` tasks have completed: a tight wait of up to 20 us (the end of a phase
 * is normally a task or two away), then naps, which give the core to whoever holds the
 * missing task if the OS descheduled it. */
static void wait_for_completed(int64_t *completed, int64_t target)
{
    if (__atomic_load_n(completed, __ATOMIC_ACQUIRE) >= target) return;
    const int64_t give_up = now_ns() + 20000;
    while (__atomic_load_n(completed, __ATOMIC_ACQUIRE) < target) {
        for (int i = 0; i < 64; i++) cpu_relax();
        if (now_ns() > give_up) break;
    }
    while (__atomic_load_n(completed, __ATOMIC_ACQUIRE) < target) nap(20000);
}

/* splitmix64: the test schedules' pseudo-random numbers */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        const uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* FC_SCHEDULE_SHUFFLE: task i of a phase of n runs as (a * i + b) mod n, a coprime to n (a
 * bijection), a and b drawn from the seed and the phase. */
static int64_t shuffled(int64_t i, int64_t n, int64_t phase, uint64_t seed)
{
    if (n <= 1) return i;
    uint64_t a = mix(seed ^ (uint64_t)phase) % (uint64_t)n;
    while (gcd(a, (uint64_t)n) != 1) a = (a + 1) % (uint64_t)n;
    const uint64_t b = mix(seed + (uint64_t)phase) % (uint64_t)n;
    return (int64_t)(((unsigned __int128)a * (uint64_t)i + b) % (uint64_t)n);
}

typedef struct run_state {
    const fc_parallel_job *job;
    int64_t total;
    int64_t next;      /* the next task to claim (all phases in one numbering) */
    int64_t completed; /* tasks completed */
    int mode;
    uint64_t seed;
} run_state;

static void work(run_state *s, int thread, int team)
{
    const fc_parallel_job *job = s->job;
    int64_t phase = 0, phase_start = 0, phase_end = job->tasks[0];
    if ((s->mode & FC_SCHEDULE_DELAY) && team > 1 && thread == team - 1) nap(200000);
    for (;;) {
        const int64_t i = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
        if (i >= s->total) return;
        while (i >= phase_end) { /* claims only grow: the phase only moves forward */
            phase_start = phase_end;
            phase_end += job->tasks[++phase];
        }
        if (phase_start > 0) wait_for_completed(&s->completed, phase_start);
        int64_t task = i - phase_start;
        if (s->mode) {
            if (s->mode & FC_SCHEDULE_SHUFFLE)
                task = shuffled(task, phase_end - phase_start, phase, s->seed);
            if ((s->mode & FC_SCHEDULE_DELAY) && (mix(s->seed ^ (uint64_t)i) & 7) == 0)
                nap((long)(mix(s->seed + (uint64_t)i) % 50000));
        }
        job->run(job->ctx, phase, task, thread);
        __atomic_fetch_add(&s->completed, 1, __ATOMIC_ACQ_REL);
    }
}

void fc_parallel_run(int threads, const fc_parallel_job *job)
{
    run_state s = {job, 0, 0, 0, fc_schedule_test_mode(), schedule_test_seed};
    for (int64_t phase = 0; phase < job->phases; phase++) s.total += job->tasks[phase];
    if (s.total == 0) return;
    if (threads > s.total) threads = (int)s.total;
    if (threads <= 1) {
        work(&s, 0, 1);
        return;
    }
#pragma omp parallel num_threads(threads)
    work(&s, fc_thread_index(), fc_team_size());
}

void fc_parallel_for(int threads, int64_t tasks, fc_task_fn run, void *ctx)
{
    const fc_parallel_job job = {run, ctx, 1, &tasks};
    fc_parallel_run(threads, &job);
}

/* fc_probe_schedule: each task records when it started (a sequence number), in which phase
 * and on which thread. */
typedef struct probe_job {
    int64_t *first_task; /* of each phase, in the global numbering */
    int64_t sequence;
    int64_t *started, *thread;
} probe_job;

static void probe_task(void *ctx, int64_t phase, int64_t task, int thread)
{
    probe_job *job = ctx;
    const int64_t at = job->first_task[phase] + task;
    job->started[at] = __atomic_fetch_add(&job->sequence, 1, __ATOMIC_RELAXED);
    job->thread[at] = thread;
}

void fc_probe_schedule(int threads, int64_t phases, const int64_t *tasks, int64_t *first_task,
                       int64_t *started, int64_t *thread)
{
    probe_job job = {first_task, 0, started, thread};
    for (int64_t phase = 0, at = 0; phase < phases; at += tasks[phase++]) first_task[phase] = at;
    const fc_parallel_job parallel = {probe_task, &job, phases, tasks};
    fc_parallel_run(threads, &parallel);
}

int fc_probe_team_size(int64_t work)
{
    const int threads = fc_region_threads(work);
    int team = 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        if (fc_thread_index() == 0) team = fc_team_size();
    }
    return team;
}
