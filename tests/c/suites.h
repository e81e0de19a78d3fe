/* suites.h — one suite per core concern, each in its own test_*.c */
#ifndef SUITES_H
#define SUITES_H

void suite_tensor_create(void);
void suite_tensor_views(void);
void suite_tensor_copy(void);
void suite_iter(void);
void suite_ops(void);
void suite_reduce(void);
void suite_blas(void);
void suite_index(void);
void suite_rng(void);
void suite_storage(void);
void suite_io(void);
void suite_optim(void);
void suite_linalg(void);
void suite_lowrank(void);
void suite_pool(void);
void suite_isa(void);
void suite_threads(void);
void suite_gemm(void);

#endif
