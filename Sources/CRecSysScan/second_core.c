#include "recsys_second_core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* When the caller waited for the helper longer than this share of the call's scan (the helper was
 * preempted mid-block: its core is busy with other processes), the next BACKOFF_CALLS calls scan
 * alone before sharing is tried again. */
#define LATE_HELPER_SHARE 0.25
#define BACKOFF_CALLS 32

static atomic_int calls_in_flight;
static atomic_int helper_taken; /* 1 from a successful start until the helper is done with that job */
static atomic_int job_closed;   /* the caller has finished; the helper must not enter the job */
static atomic_int helper_in_job;
static atomic_ulong jobs_run;
static atomic_int backoff_calls;
static double posted_at; /* seconds; written by the caller that holds helper_taken */

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static pthread_once_t helper_once = PTHREAD_ONCE_INIT;
static int helper_running;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_left = PTHREAD_COND_INITIALIZER;
static recsys_second_core_job posted_job; /* under lock */
static void *posted_context;              /* under lock */

static void *helper_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (posted_job == NULL) pthread_cond_wait(&job_posted, &lock);
    recsys_second_core_job job = posted_job;
    void *context = posted_context;
    posted_job = NULL;
    pthread_mutex_unlock(&lock);
    /* With finish()'s store-then-load in the other order (both sequentially consistent), at least
     * one side sees the other: either the caller waits for this job, or the job is skipped. */
    atomic_store(&helper_in_job, 1);
    if (!atomic_load(&job_closed)) {
      job(context);
      atomic_fetch_add(&jobs_run, 1);
    }
    pthread_mutex_lock(&lock);
    atomic_store(&helper_in_job, 0);
    pthread_cond_broadcast(&job_left);
    atomic_store(&helper_taken, 0);
  }
  return NULL;
}

static void start_helper(void) {
  /* RECSYS_SCAN_SHARE=0: never share (a machine whose other cores belong to other work). */
  const char *share = getenv("RECSYS_SCAN_SHARE");
  if (share != NULL && strcmp(share, "0") == 0) return;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
  pthread_attr_t attributes;
  pthread_t thread;
  if (pthread_attr_init(&attributes) != 0) return;
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  helper_running = pthread_create(&thread, &attributes, helper_main, NULL) == 0;
  pthread_attr_destroy(&attributes);
}

void recsys_second_core_enter(void) { atomic_fetch_add(&calls_in_flight, 1); }

void recsys_second_core_leave(void) { atomic_fetch_sub(&calls_in_flight, 1); }

int recsys_second_core_start(recsys_second_core_job job, void *context) {
  if (job == NULL || atomic_load(&calls_in_flight) > 1) return 0;
  if (atomic_load(&backoff_calls) > 0) {
    atomic_fetch_sub(&backoff_calls, 1); /* a benign race: a call more or less scans alone */
    return 0;
  }
  int idle = 0;
  if (!atomic_compare_exchange_strong(&helper_taken, &idle, 1)) return 0;
  pthread_once(&helper_once, start_helper);
  if (!helper_running) {
    atomic_store(&helper_taken, 0);
    return 0;
  }
  posted_at = now_seconds();
  pthread_mutex_lock(&lock);
  atomic_store(&job_closed, 0);
  posted_job = job;
  posted_context = context;
  pthread_cond_signal(&job_posted);
  pthread_mutex_unlock(&lock);
  return 1;
}

void recsys_second_core_finish(void) {
  atomic_store(&job_closed, 1);
  if (!atomic_load(&helper_in_job)) return;
  const double done = now_seconds();
  pthread_mutex_lock(&lock);
  while (atomic_load(&helper_in_job)) pthread_cond_wait(&job_left, &lock);
  pthread_mutex_unlock(&lock);
  const double end = now_seconds();
  if (end - done > LATE_HELPER_SHARE * (end - posted_at)) atomic_store(&backoff_calls, BACKOFF_CALLS);
}

size_t recsys_second_core_claim(size_t *counter, size_t step) {
  return __atomic_fetch_add(counter, step, __ATOMIC_RELAXED);
}

unsigned long recsys_second_core_jobs_run(void) { return atomic_load(&jobs_run); }
