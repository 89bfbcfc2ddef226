/* Work distribution: dynamic task claiming inside one OpenMP region (see parallel.h). */
#define _GNU_SOURCE /* syscall */
#include <pthread.h>
#include <stdint.h>
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

/* FC_SCHEDULE_SHUFFLE: task i of a phase of n runs as (a * i + b) mod n, a coprime to n (a
 * bijection), a and b drawn from the seed and the phase. */
static int64_t shuffled(int64_t i, int64_t n, int64_t phase, uint64_t seed)
{
    if (n <= 1) return i;
    uint64_t a = mix(seed ^ (uint64_t)phase) % (uint64_t)n;
    while (fc_gcd((int64_t)a, n) != 1) a = (a + 1) % (uint64_t)n;
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

/* ---- the pool ------------------------------------------------------------------------------
 * Why not an OpenMP region: its end is a barrier that every thread of the team must reach, so
 * a thread the OS has not yet scheduled -- woken for the op while another process holds its
 * core -- costs the whole op a scheduling delay even when the others did all the work.  With
 * one busy process beside it, LeNet-5's training step (some 20 short ops) ran 2x slower on 2
 * threads than on 1 that way (6.4k against 12.3k images/s on the 2-core AVX-512 machine).
 * Here the caller never waits for a worker that has not started: workers join a job through a
 * gate the caller closes once every task is claimed, and the caller waits only for the ones
 * that joined (each finishing the task it holds).  A late worker finds the gate closed and
 * goes back to waiting.
 *
 * Waiting: a worker spins ~50 us for the next job (a training step's ops follow each other
 * within that), then sleeps on a futex; the caller, after its own tasks, spins briefly for
 * the joined workers, then sleeps too.  One pool serves one op at a time; a caller that finds
 * it busy (ops in several Python threads at once) runs its op on its own thread. */

#define FC_MAX_WORKERS 255
#define WORKER_SPIN_NS 50000
/* gate: epoch (32 bits) | closed (1) | workers wanted (15) | workers that joined (8: each
 * gets the next thread slot) | workers still in the job (8) */
#define GATE_CLOSED ((uint64_t)1 << 31)
#define GATE_WANTED(g) ((uint32_t)(((g) >> 16) & 0x7fff))
#define GATE_JOINED(g) ((uint32_t)(((g) >> 8) & 0xff))
#define GATE_ACTIVE(g) ((uint32_t)((g) & 0xff))
#define GATE_JOIN ((uint64_t)0x101) /* joined + 1, active + 1 */

static struct {
    int busy;              /* a caller owns the pool (try-lock) */
    int workers;           /* worker threads started */
    uint32_t epoch;        /* futex word: bumped once per job */
    uint32_t sleepers;     /* workers asleep on `epoch` */
    uint32_t left;         /* futex word the caller sleeps on: bumped by the last joined worker */
    uint64_t gate;
    run_state *job;
} pool = {.gate = GATE_CLOSED};

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
static void futex_wait(uint32_t *word, uint32_t expected)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}
static void futex_wake(uint32_t *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0); }
#else /* elsewhere: short naps instead of a futex */
static void futex_wait(uint32_t *word, uint32_t expected)
{
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == expected) nap(50000);
}
static void futex_wake(uint32_t *word) { (void)word; }
#endif

/* `created_at`: the epoch when the worker was created, before the job it was created for */
static void *worker_main(void *created_at)
{
    uint32_t seen = (uint32_t)(uintptr_t)created_at;
    for (;;) {
        /* the next job: spin a little, then sleep */
        const int64_t give_up = now_ns() + WORKER_SPIN_NS;
        while (__atomic_load_n(&pool.epoch, __ATOMIC_ACQUIRE) == seen && now_ns() < give_up)
            for (int i = 0; i < 16; i++) cpu_relax();
        while (__atomic_load_n(&pool.epoch, __ATOMIC_ACQUIRE) == seen) {
            __atomic_fetch_add(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
            futex_wait(&pool.epoch, seen);
            __atomic_fetch_sub(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
        }
        seen = __atomic_load_n(&pool.epoch, __ATOMIC_ACQUIRE);
        /* join the current job if its gate is open and it wants more threads */
        uint64_t g = __atomic_load_n(&pool.gate, __ATOMIC_ACQUIRE);
        int joined = 0;
        while (!(g & GATE_CLOSED) && GATE_JOINED(g) < GATE_WANTED(g))
            if (__atomic_compare_exchange_n(&pool.gate, &g, g + GATE_JOIN, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                joined = 1;
                break;
            }
        if (!joined) continue;
        work(pool.job, (int)GATE_JOINED(g) + 1, (int)GATE_WANTED(g) + 1);
        g = __atomic_fetch_sub(&pool.gate, 1, __ATOMIC_ACQ_REL);
        if ((g & GATE_CLOSED) && GATE_ACTIVE(g) == 1) { /* the last one out: wake the caller */
            __atomic_fetch_add(&pool.left, 1, __ATOMIC_SEQ_CST);
            futex_wake(&pool.left);
        }
    }
    return NULL;
}

/* Starts workers up to `count` (fewer if the system refuses threads); how many there are. */
static int start_workers(int count)
{
    if (count > FC_MAX_WORKERS) count = FC_MAX_WORKERS;
    while (pool.workers < count) {
        pthread_attr_t attr;
        pthread_t tid;
        if (pthread_attr_init(&attr) != 0) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, (size_t)1 << 20); /* tasks keep their data on the heap */
        const int failed =
            pthread_create(&tid, &attr, worker_main, (void *)(uintptr_t)pool.epoch);
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool.workers++;
    }
    return pool.workers < count ? pool.workers : count;
}

/* fork(): the child has none of the workers, and a pool that was busy in another thread of
 * the parent; it starts afresh (new workers on its first threaded op). */
static void pool_after_fork_in_child(void)
{
    pool.busy = 0;
    pool.workers = 0;
    pool.sleepers = 0;
    pool.gate = (uint64_t)pool.epoch << 32 | GATE_CLOSED;
}

__attribute__((constructor)) static void fc_register_pool_fork_handler(void)
{
    pthread_atfork(NULL, NULL, pool_after_fork_in_child);
}

static void run_on_pool(run_state *s, int threads)
{
    if (__atomic_exchange_n(&pool.busy, 1, __ATOMIC_ACQUIRE)) { /* another op has the pool */
        work(s, 0, 1);
        return;
    }
    const int helpers = start_workers(threads - 1); /* at most threads - 1 */
    pool.job = s;
    const uint32_t epoch = pool.epoch + 1;
    __atomic_store_n(&pool.gate, (uint64_t)epoch << 32 | (uint64_t)helpers << 16,
                     __ATOMIC_RELEASE);
    __atomic_store_n(&pool.epoch, epoch, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool.sleepers, __ATOMIC_SEQ_CST) > 0) futex_wake(&pool.epoch);
    work(s, 0, helpers + 1);
    /* every task is claimed: close the gate, then wait for the workers that joined */
    const uint32_t left = __atomic_load_n(&pool.left, __ATOMIC_SEQ_CST);
    uint64_t g = __atomic_fetch_or(&pool.gate, GATE_CLOSED, __ATOMIC_ACQ_REL);
    if (GATE_ACTIVE(g) > 0) {
        const int64_t give_up = now_ns() + 20000;
        while (GATE_ACTIVE(__atomic_load_n(&pool.gate, __ATOMIC_ACQUIRE)) > 0 &&
               now_ns() < give_up)
            for (int i = 0; i < 16; i++) cpu_relax();
        if (GATE_ACTIVE(__atomic_load_n(&pool.gate, __ATOMIC_ACQUIRE)) > 0) {
            uint32_t seen = left;
            while (GATE_ACTIVE(__atomic_load_n(&pool.gate, __ATOMIC_ACQUIRE)) > 0) {
                futex_wait(&pool.left, seen);
                seen = __atomic_load_n(&pool.left, __ATOMIC_SEQ_CST);
            }
        }
    }
    __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
}

void fc_parallel_run(int threads, const fc_parallel_job *job)
{
    run_state s = {job, 0, 0, 0, fc_schedule_test_mode(), schedule_test_seed};
    for (int64_t phase = 0; phase < job->phases; phase++) s.total += job->tasks[phase];
    if (s.total == 0) return;
    if (threads > s.total) threads = (int)s.total;
    if (threads <= 1)
        work(&s, 0, 1);
    else
        run_on_pool(&s, threads);
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

/* fc_probe_team_size: as many tasks as threads, each waiting (up to a second) until all have
 * started, so that each runs on its own thread; the distinct threads seen. */
typedef struct team_probe {
    int64_t started;
    unsigned char seen[FC_MAX_WORKERS + 1];
    int64_t tasks;
} team_probe;

static void team_probe_task(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase, (void)task;
    team_probe *probe = ctx;
    probe->seen[thread] = 1;
    __atomic_fetch_add(&probe->started, 1, __ATOMIC_SEQ_CST);
    const int64_t give_up = now_ns() + 1000000000;
    while (__atomic_load_n(&probe->started, __ATOMIC_SEQ_CST) < probe->tasks && now_ns() < give_up)
        nap(10000);
}

int fc_probe_team_size(int64_t work)
{
    int threads = fc_region_threads(work);
    if (threads > FC_MAX_WORKERS + 1) threads = FC_MAX_WORKERS + 1;
    team_probe probe = {0, {0}, threads};
    fc_parallel_for(threads, threads, team_probe_task, &probe);
    int team = 0;
    for (int i = 0; i <= FC_MAX_WORKERS; i++) team += probe.seen[i];
    return team;
}
