/* linalg.h — dense factorisations through LAPACKE: reduced QR, singular
 * values, eigenvalues of one matrix.
 *
 * Inputs are 2-D float32 or float64 tensors, any strides; they are copied
 * (LAPACK overwrites its input) and never modified. Results are new
 * contiguous tensors of the input's dtype, computed in that precision
 * (sgeqrf/dgeqrf and sorgqr/dorgqr, sgesdd/dgesdd, sgeev/dgeev), outside
 * any autograd graph: none of these is differentiable. Inputs holding NaN
 * or Inf are refused (LAPACK's iterations are undefined on them).
 *
 * Errors name the operation and the shape: "svdvals: expected a 2-d matrix
 * (m,n), got (3,4,5)", "eigvals: matrix (3,4) is not square",
 * "eigvals: did not converge (LAPACK info 2)". */
#ifndef RL_LINALG_H
#define RL_LINALG_H

#include "tensor.h"

/* Reduced QR: a = q r with q's columns orthonormal and r upper-triangular.
 *   a: (m,n), k = min(m,n); q: (m,k), r: (k,n).
 * The signs are LAPACK's (Householder): diag(r) may be negative. */
rl_status rl_qr(rl_tensor **q, rl_tensor **r, const rl_tensor *a);

/* Singular values, in descending order (all >= 0).
 *   a: (m,n); s: (min(m,n),) */
rl_status rl_svdvals(rl_tensor **s, const rl_tensor *a);

/* Eigenvalues of a square matrix, as real and imaginary parts, in LAPACK's
 * order (not sorted): a complex conjugate pair occupies two consecutive
 * entries, the one with positive imaginary part first.
 *   a: (n,n); re, im: (n,) */
rl_status rl_eigvals(rl_tensor **re, rl_tensor **im, const rl_tensor *a);

#endif
