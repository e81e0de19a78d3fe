/* harness.h — a minimal unit-test harness for the C core.
 *
 * A suite is a function that runs its tests with TH_RUN(test_fn); main.c
 * calls every suite and then th_summary(), which prints exactly one line
 * "c: N passed, M failed" (N, M counted in test functions) and returns the
 * exit status. Each test prints "ok - name", or "not ok - name" followed by
 * its failing checks, one "#   file:line: message" line each. A test also fails when the
 * live storage bytes of the core differ before and after it (a leak probe set
 * by main.c).
 *
 * CHECK* macros record a failure and continue; REQUIRE* record and return
 * from the current test function (for values that later checks depend on). */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef void (*th_test_fn)(void);

void th_run(const char *name, th_test_fn fn);
/* Only tests whose name contains this substring run (NULL: all). */
void th_set_filter(const char *substr);
/* Called before and after each test; a difference fails the test. */
void th_set_leak_probe(uint64_t (*probe)(void));
/* Prints the summary line; returns 0 when nothing failed, else 1. */
int th_summary(void);

/* Records one failed check of the running test (printf-style message). */
void th_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Number of failed checks of the running test so far. */
int th_failures(void);

bool th_close(double got, double want, double tol); /* NaN==NaN, inf==inf */

#define TH_RUN(fn) th_run(#fn, fn)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) th_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                           \
    do {                                                                               \
        if (!(cond)) th_fail(__FILE__, __LINE__, __VA_ARGS__);                         \
    } while (0)

/* |got - want| <= tol; both NaN counts as equal */
#define CHECK_CLOSE(got, want, tol)                                                    \
    do {                                                                               \
        double th_g_ = (got), th_w_ = (want), th_t_ = (tol);                           \
        if (!th_close(th_g_, th_w_, th_t_))                                            \
            th_fail(__FILE__, __LINE__, "CHECK_CLOSE(%s, %s, %s): got %.17g, want %.17g, " \
                    "diff %.3g > tol %.3g", #got, #want, #tol, th_g_, th_w_,           \
                    th_g_ - th_w_, th_t_);                                             \
    } while (0)

#define CHECK_EQ_INT(got, want)                                                        \
    do {                                                                               \
        long long th_g_ = (long long)(got), th_w_ = (long long)(want);                 \
        if (th_g_ != th_w_)                                                            \
            th_fail(__FILE__, __LINE__, "CHECK_EQ_INT(%s, %s): got %lld, want %lld",   \
                    #got, #want, th_g_, th_w_);                                        \
    } while (0)

#define CHECK_EQ_U64(got, want)                                                        \
    do {                                                                               \
        unsigned long long th_g_ = (got), th_w_ = (want);                              \
        if (th_g_ != th_w_)                                                            \
            th_fail(__FILE__, __LINE__, "CHECK_EQ_U64(%s, %s): got 0x%016llx, want 0x%016llx", \
                    #got, #want, th_g_, th_w_);                                        \
    } while (0)

/* haystack contains needle */
#define CHECK_CONTAINS(haystack, needle)                                               \
    do {                                                                               \
        const char *th_h_ = (haystack), *th_n_ = (needle);                             \
        if (!th_h_ || !strstr(th_h_, th_n_))                                           \
            th_fail(__FILE__, __LINE__, "CHECK_CONTAINS(%s, %s): \"%s\" does not contain \"%s\"", \
                    #haystack, #needle, th_h_ ? th_h_ : "(null)", th_n_);              \
    } while (0)

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            th_fail(__FILE__, __LINE__, "REQUIRE(%s) failed; test stopped", #cond);    \
            return;                                                                    \
        }                                                                              \
    } while (0)

#endif
