#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* failing checks printed per test; the rest are only counted */
#define TH_MAX_PRINTED 12

static int n_passed, n_failed;
static int cur_failures;
static const char *filter;
static uint64_t (*leak_probe)(void);
/* the running test's failure lines, printed after its "not ok" line */
static char report[TH_MAX_PRINTED * 512 + 64];
static size_t report_len;

void th_set_filter(const char *substr) { filter = substr; }
void th_set_leak_probe(uint64_t (*probe)(void)) { leak_probe = probe; }
int th_failures(void) { return cur_failures; }

static void report_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report_add(const char *fmt, ...)
{
    if (report_len >= sizeof report - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(report + report_len, sizeof report - report_len, fmt, ap);
    va_end(ap);
    if (k > 0) report_len += (size_t)k;
    if (report_len > sizeof report - 1) report_len = sizeof report - 1;
}

void th_fail(const char *file, int line, const char *fmt, ...)
{
    cur_failures++;
    if (cur_failures > TH_MAX_PRINTED) return;
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report_add("#   %s:%d: %s\n", file, line, msg);
}

bool th_close(double got, double want, double tol)
{
    if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
    if (got == want) return true; /* also equal infinities */
    return fabs(got - want) <= tol;
}

void th_run(const char *name, th_test_fn fn)
{
    if (filter && !strstr(name, filter)) return;
    cur_failures = 0;
    report_len = 0;
    report[0] = '\0';
    uint64_t live0 = leak_probe ? leak_probe() : 0;
    fn();
    if (leak_probe) {
        uint64_t live1 = leak_probe();
        if (live1 != live0)
            th_fail(__FILE__, __LINE__, "storage bytes live: %llu before the test, %llu after (leak or double free)",
                    (unsigned long long)live0, (unsigned long long)live1);
    }
    if (cur_failures) {
        printf("not ok - %s\n%s", name, report);
        if (cur_failures > TH_MAX_PRINTED)
            printf("#   ... and %d more failed checks\n", cur_failures - TH_MAX_PRINTED);
        n_failed++;
    } else {
        printf("ok - %s\n", name);
        n_passed++;
    }
    fflush(stdout);
}

int th_summary(void)
{
    printf("c: %d passed, %d failed\n", n_passed, n_failed);
    fflush(stdout);
    return n_failed ? 1 : 0;
}
