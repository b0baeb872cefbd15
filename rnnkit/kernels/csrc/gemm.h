// Packed matrix products for the inference plans (step.h): C (M x N) = init + A (M x K) W^T,
// with W (N x K) in torch's (out_features, in_features) layout packed once into column panels.
//
// Why not ATen's mm: a recurrence issues one small product per time step (M = the batch),
// where a BLAS call re-packs its operands every time and, on some CPUs, does not take the
// widest vector unit. Packing W once per plan and running a register-blocked kernel over it
// is what fused RNN libraries (oneDNN) do too. (The training loops of cells.cpp keep ATen's
// products, so that trained weights do not depend on this file.)
//
// Layout: panel p holds columns [p*L, p*L + L) of C (L = one 64-byte vector: 16 floats or
// 8 doubles) for every k: P[p][k][j] = W[p*L + j][k], zero past N. A micro-kernel keeps an
// MR x NP block of vectors of C in registers and reads, for each k, NP vectors of W and MR
// scalars of A. Vectors are GCC/Clang vector extensions, so -march=native picks the unit
// (AVX-512, AVX2, NEON) without intrinsics; the multiply-adds are contracted to FMAs.
#pragma once

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

namespace rnnkit_gemm {

template <typename T> struct Vec {
  static constexpr int L = 64 / static_cast<int>(sizeof(T));
  typedef T type __attribute__((vector_size(64)));
};

// A packed weight: P (panels, K, L) and the logical N, K.
struct Packed {
  torch::Tensor data;
  int64_t N = 0, K = 0;
  bool defined() const { return data.defined() && data.numel() > 0; }
};

// Pack W given by strides: W[n][k] = src[n * sn + k * sk] (torch's W: sn = K, sk = 1; its
// transpose Wt (K x N): sn = 1, sk = N).
template <typename T>
void pack_into(const T* src, int64_t N, int64_t K, int64_t sn, int64_t sk, T* dst) {
  constexpr int L = Vec<T>::L;
  const int64_t panels = (N + L - 1) / L;
  at::parallel_for(0, panels, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* out = dst + p * K * L;
      const int64_t width = std::min<int64_t>(L, N - p * L);
      for (int64_t k = 0; k < K; ++k) {
        T* row = out + k * L;
        if (sn == 1) {
          std::memcpy(row, src + p * L + k * sk, sizeof(T) * width);
        } else {
          for (int64_t j = 0; j < width; ++j) row[j] = src[(p * L + j) * sn + k * sk];
        }
        for (int64_t j = width; j < L; ++j) row[j] = T(0);
      }
    }
  });
}

// Pack a 2-D tensor W (N, K) (transposed = false) or its transpose Wt (K, N) (true).
inline Packed pack(const torch::Tensor& w, bool transposed) {
  Packed out;
  if (!w.defined() || w.numel() == 0) return out;
  TORCH_CHECK(w.dim() == 2, "rnnkit pack: expected a matrix");
  const int64_t N = transposed ? w.size(1) : w.size(0), K = transposed ? w.size(0) : w.size(1);
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "rnnkit_pack", [&] {
    constexpr int L = Vec<scalar_t>::L;
    out.data = torch::empty({(N + L - 1) / L, K, L}, w.options());
    const int64_t s0 = w.stride(0), s1 = w.stride(1);
    pack_into<scalar_t>(w.data_ptr<scalar_t>(), N, K, transposed ? s1 : s0,
                        transposed ? s0 : s1, out.data.data_ptr<scalar_t>());
  });
  out.N = N;
  out.K = K;
  return out;
}

template <typename T> inline typename Vec<T>::type load_part(const T* p, int64_t n) {
  typedef typename Vec<T>::type V;
  constexpr int L = Vec<T>::L;
  V v{};
  if (n >= L) {
    std::memcpy(&v, p, sizeof(V));
  } else if (n > 0) {
    std::memcpy(&v, p, sizeof(T) * n);
  }
  return v;
}

template <typename T> inline void store_part(T* p, const typename Vec<T>::type& v, int64_t n) {
  if (n >= Vec<T>::L) {
    std::memcpy(p, &v, sizeof(v));
  } else if (n > 0) {
    std::memcpy(p, &v, sizeof(T) * n);
  }
}

// An MR x (NP*L) block of C: rows A[0..MR), panels P, P + ps, ...; ncols valid columns.
// init (rows init + r * ldi; ldi = 0 repeats one row, e.g. a bias) or zero.
template <typename T, int MR, int NP>
inline void micro(int64_t K, const T* __restrict A, int64_t lda, const T* __restrict P,
                  int64_t ps, T* C, int64_t ldc, const T* init, int64_t ldi, int64_t ncols) {
  typedef typename Vec<T>::type V;
  constexpr int L = Vec<T>::L;
  V acc[MR][NP];
  for (int r = 0; r < MR; ++r)
    for (int q = 0; q < NP; ++q)
      acc[r][q] = init ? load_part(init + r * ldi + q * L, ncols - q * L) : V{};
  for (int64_t k = 0; k < K; ++k) {
    V w[NP];
    for (int q = 0; q < NP; ++q) w[q] = *reinterpret_cast<const V*>(P + q * ps + k * L);
    for (int r = 0; r < MR; ++r) {
      const T a = A[r * lda + k];
      for (int q = 0; q < NP; ++q) acc[r][q] += a * w[q];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int q = 0; q < NP; ++q) store_part(C + r * ldc + q * L, acc[r][q], ncols - q * L);
}

// The most rows a micro-kernel takes: MR x NP accumulators must fit the 32 vector registers
// (24 of them, the rest hold W's vectors and A's broadcasts).
template <int NP> constexpr int64_t max_rows() { return NP == 1 ? 8 : 24 / NP; }

template <typename T, int NP, int MR = 1>
void rows(int64_t mr, int64_t K, const T* A, int64_t lda, const T* P, int64_t ps, T* C,
          int64_t ldc, const T* init, int64_t ldi, int64_t ncols) {
  if (mr == MR) {
    micro<T, MR, NP>(K, A, lda, P, ps, C, ldc, init, ldi, ncols);
  } else if constexpr (MR < max_rows<NP>()) {
    rows<T, NP, MR + 1>(mr, K, A, lda, P, ps, C, ldc, init, ldi, ncols);
  }
}

// Columns [block * NP * L, ...) for rows [m0, m1), max_rows<NP>() rows at a time.
template <typename T, int NP>
void column_block(int64_t m0, int64_t m1, int64_t block, int64_t K, const T* A, int64_t lda,
                  const T* P, int64_t N, T* C, int64_t ldc, const T* init, int64_t ldi) {
  constexpr int L = Vec<T>::L;
  constexpr int64_t MR = max_rows<NP>();
  const int64_t col = block * NP * L, ncols = std::min<int64_t>(NP * L, N - col);
  const int64_t panels = (ncols + L - 1) / L, ps = K * L;
  const T* Pb = P + col * K;
  // as few row blocks as MR allows, of sizes that differ by at most one
  const int64_t nb = (m1 - m0 + MR - 1) / MR, base = nb ? (m1 - m0) / nb : 0;
  const int64_t extra = nb ? (m1 - m0) % nb : 0;
  for (int64_t i = 0, m = m0; i < nb; ++i) {
    const int64_t mr = base + (i < extra ? 1 : 0);
    const T* in = init ? init + m * ldi + col : nullptr;
    if (panels == NP) {
      rows<T, NP>(mr, K, A + m * lda, lda, Pb, ps, C + m * ldc + col, ldc, in, ldi, ncols);
    } else {  // the last, narrower block: one panel at a time
      for (int64_t q = 0; q < panels; ++q)
        rows<T, 1>(mr, K, A + m * lda, lda, Pb + q * ps, ps, C + m * ldc + col + q * L, ldc,
                   in ? in + q * L : nullptr, ldi, ncols - q * L);
    }
    m += mr;
  }
}

template <typename T, int NP>
void gemm_np(int64_t M, const T* A, int64_t lda, const Packed& W, T* C, int64_t ldc,
             const T* init, int64_t ldi) {
  constexpr int L = Vec<T>::L;
  const int64_t N = W.N, K = W.K;
  const T* P = W.data.data_ptr<T>();
  const int64_t blocks = (N + NP * L - 1) / (NP * L);
  const int64_t MC = 384;  // rows of A kept hot (in L2) while every column block passes over them
  if (M > MC) {  // a tall product (all steps' inputs): split rows over threads
    const int64_t chunks = (M + MC - 1) / MC;
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t m0 = c * MC, m1 = std::min(M, m0 + MC);
        for (int64_t b = 0; b < blocks; ++b)
          column_block<T, NP>(m0, m1, b, K, A, lda, P, N, C, ldc, init, ldi);
      }
    });
    return;
  }
  // one step's product: split column blocks over threads when each gets enough work
  const int64_t work = std::max<int64_t>(1, M * K * NP * L);
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 18) / work);
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      column_block<T, NP>(0, M, b, K, A, lda, P, N, C, ldc, init, ldi);
  });
}

// C (M x N, row stride ldc) = init + A (M x K, row stride lda) W^T. init: null (zero), a
// matrix with row stride ldi (may be C itself: C += A W^T), or one row repeated (ldi = 0).
template <typename T>
void gemm(int64_t M, const T* A, int64_t lda, const Packed& W, T* C, int64_t ldc,
          const T* init = nullptr, int64_t ldi = 0) {
  if (M <= 0 || W.N <= 0) return;
  if (W.K == 0) {  // nothing to multiply: C = init
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < W.N; ++n) C[m * ldc + n] = init ? init[m * ldi + n] : T(0);
    return;
  }
  // few rows: wide blocks, so that every row block passes over W once and still has enough
  // independent accumulators to hide the multiply-add latency
  if (M <= 3) {
    gemm_np<T, 8>(M, A, lda, W, C, ldc, init, ldi);
  } else if (M == 4) {
    gemm_np<T, 6>(M, A, lda, W, C, ldc, init, ldi);
  } else if (M <= 8) {
    gemm_np<T, 3>(M, A, lda, W, C, ldc, init, ldi);
  } else {
    gemm_np<T, 4>(M, A, lda, W, C, ldc, init, ldi);
  }
}

}  // namespace rnnkit_gemm

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
