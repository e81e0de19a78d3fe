/* matmul_cblas.c — the machine's sgemm/dgemm rate through a direct cblas
 * call, the yardstick for rnn.matmul in bench/run.sh.
 *   matmul_cblas THREADS REPEATS
 * prints one line per configuration: "cblas DTYPE N TRANS GFLOPS" (median). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median GFLOP/s of `repeats` batches, each batch >= 0.1 s */
static double rate(int dbl, int n, int trans, int repeats)
{
    size_t es = dbl ? 8 : 4, bytes = (size_t)n * (size_t)n * es;
    void *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes), *c = aligned_alloc(64, bytes);
    for (size_t i = 0; i < (size_t)n * (size_t)n; i++) {
        double v = (double)((i * 2654435761u) % 1000) / 1000.0 - 0.5;
        if (dbl) { ((double *)a)[i] = v; ((double *)b)[i] = -v; }
        else { ((float *)a)[i] = (float)v; ((float *)b)[i] = (float)-v; }
    }
    enum CBLAS_TRANSPOSE tb = trans ? CblasTrans : CblasNoTrans;
#define GEMM()                                                                                  \
    (dbl ? cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, n, n, n, 1.0, a, n, b, n, 0.0, c, n)     \
         : cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n))
    GEMM();
    int iters = 1;
    for (;;) {
        double t0 = now();
        for (int i = 0; i < iters; i++) GEMM();
        if (now() - t0 > 0.1) break;
        iters *= 2;
    }
    double *r = malloc(sizeof *r * (size_t)repeats);
    for (int k = 0; k < repeats; k++) {
        double t0 = now();
        for (int i = 0; i < iters; i++) GEMM();
        r[k] = 2.0 * n * n * (double)n * iters / (now() - t0) / 1e9;
    }
    qsort(r, (size_t)repeats, sizeof *r, cmp);
    double med = r[repeats / 2];
    free(r); free(a); free(b); free(c);
    return med;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (threads < 1 || repeats < 1) {
        fprintf(stderr, "usage: matmul_cblas THREADS REPEATS\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    const int sizes[] = {128, 512, 1024};
    for (int dbl = 0; dbl < 2; dbl++)
        for (int s = 0; s < 3; s++)
            for (int trans = 0; trans < 2; trans++)
                printf("cblas %s %d %s %.2f\n", dbl ? "float64" : "float32", sizes[s], trans ? "NT" : "NN",
                       rate(dbl, sizes[s], trans, repeats));
    return 0;
}
