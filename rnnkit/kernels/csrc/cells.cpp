// Fused arithmetic of the built-in cells, for rnnkit's BPTT kernels on the CPU.
//
// Each *_impl function does one time step's element-wise work for a batch in one pass over
// memory, where the Python families issue 10-30 small ATen calls; the Python-callable
// wrappers check the tensors and dispatch on the dtype. The *_loop_* functions run a whole
// sequence (forward or backward) from C++: only the recurrent matrix products go through
// ATen (MKL/oneDNN), one per step. The formulas are those of rnnkit/kernels/families.py and
// layernorm.py, which remain the reference (and the fallback where this file cannot be
// compiled).
//
// The inference plans (step.h: streaming steps, and whole sequences when no gradient is
// recorded) run the same *_impl functions on weights packed once (gemm.h); the loops here keep
// ATen's products, so training computes what it always has.
//
// Every tensor is contiguous, rows = batch, and of one floating dtype (float32 or float64);
// per-step buffers (T, B, X) may instead be one slot expanded over T (stride 0, inference).
// Rows are independent and split over torch's threads with at::parallel_for.
//
// float32 uses a polynomial exp (Cephes' expf: range reduction by ln 2, degree-5 polynomial,
// about 1 ulp) that the compiler vectorises (with -fno-trapping-math, see native.py);
// float64 uses std::exp so that gradcheck sees exact derivatives.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include "gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace {

inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : x;  // written as selects (not std::min) so that NaN passes through
  x = x > 88.3f ? 88.3f : x;
  const float t = x * 1.44269504088896341f;  // x / ln 2
  const int32_t ni = static_cast<int32_t>(t + (t >= 0 ? 0.5f : -0.5f));  // nearest integer
  const float n = static_cast<float>(ni);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n ln 2, in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (ni + 127) << 23;  // 2^n as a float's bits
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);  // std::bit_cast, which needs C++20
  return y * scale;
}

inline float exp_(float x) { return fast_exp(x); }
inline double exp_(double x) { return std::exp(x); }

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + exp_(-x)); }
template <typename T> inline T tanh_(T x) { return T(2) / (T(1) + exp_(T(-2) * x)) - T(1); }
inline double tanh_(double x) { return std::tanh(x); }

// Rows per task: enough work per thread to pay for the hand-off. ATen splits simple ops at
// 32768 elements; a fused step does several exps per element, so a quarter of that.
inline int64_t grain(int64_t row_width) {
  return std::max<int64_t>(1, 8192 / std::max<int64_t>(1, row_width));
}

template <typename T> T* ptr(const torch::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

// Start of step t of a per-step buffer (T, ...) or of a one-slot buffer expanded over T.
template <typename T> T* step(const torch::Tensor& t, int64_t s) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<T>() + s * t.stride(0) : nullptr;
}

void check(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(!t.defined() || t.numel() == 0 || t.is_contiguous(), "rnnkit native: ", name,
              " must be contiguous");
  TORCH_CHECK(!t.defined() || t.device().is_cpu(), "rnnkit native: ", name, " must be on the CPU");
}

template <typename... Ts> void check_all(const char* name, const Ts&... ts) {
  (check(ts, name), ...);
}

// A per-step buffer: contiguous rows after the step dimension, on the CPU.
void check_steps(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(!t.defined() || t.numel() == 0 || t[0].is_contiguous(), "rnnkit native: ", name,
              " must have contiguous steps");
  TORCH_CHECK(!t.defined() || t.device().is_cpu(), "rnnkit native: ", name, " must be on the CPU");
}

template <typename... Ts> void check_steps_all(const char* name, const Ts&... ts) {
  (check_steps(ts, name), ...);
}

// Mean and inverse deviation of x[0..H), as torch.native_layer_norm computes them.
template <typename T> inline void moments(const T* x, int64_t H, double eps, T& mean, T& rstd) {
  T s = 0;
  _Pragma("omp simd reduction(+ : s)")
  for (int64_t j = 0; j < H; ++j) s += x[j];
  mean = s / T(H);
  T v = 0;
  _Pragma("omp simd reduction(+ : v)")
  for (int64_t j = 0; j < H; ++j) {
    const T d = x[j] - mean;
    v += d * d;
  }
  rstd = T(1) / std::sqrt(v / T(H) + T(eps));
}

// dx of y = (x - mean) * rstd * w from dy: rstd (g - mean(g) - x̂ mean(g x̂)), g = dy w.
// dw, db (optional): the gain's and shift's gradients dy x̂ and dy are added into them.
template <typename T>
inline void ln_backward(const T* dy, const T* w, const T* x, T mean, T rstd, int64_t H, T* dx,
                        bool accumulate, T* dw = nullptr, T* db = nullptr) {
  T sg = 0, sgx = 0;
  _Pragma("omp simd reduction(+ : sg, sgx)")
  for (int64_t j = 0; j < H; ++j) {
    const T g = w ? dy[j] * w[j] : dy[j];
    sg += g;
    sgx += g * (x[j] - mean) * rstd;
  }
  sg /= T(H);
  sgx /= T(H);
  _Pragma("omp simd")
  for (int64_t j = 0; j < H; ++j) {
    const T g = w ? dy[j] * w[j] : dy[j];
    const T xhat = (x[j] - mean) * rstd;
    const T v = rstd * (g - sg - xhat * sgx);
    dx[j] = accumulate ? dx[j] + v : v;
  }
  if (dw) {
    _Pragma("omp simd")
    for (int64_t j = 0; j < H; ++j) dw[j] += dy[j] * (x[j] - mean) * rstd;
  }
  if (db) {
    _Pragma("omp simd")
    for (int64_t j = 0; j < H; ++j) db[j] += dy[j];
  }
}

// Column sums accumulated per thread while rows are split over threads, then added into
// `out` (a parameter's gradient). A null `out` makes mine() null: nothing is accumulated.
// When the rows will run as one task (rows <= grain, or one thread), mine() is `out` itself.
template <typename T> struct Partials {
  T* out;
  int64_t width;
  bool direct;
  std::vector<T> buf;
  Partials(T* out_, int64_t width_, int64_t rows, int64_t grain_rows)
      : out(out_), width(width_),
        direct(rows <= grain_rows || at::get_num_threads() == 1 || at::in_parallel_region()) {
    if (out && !direct) buf.assign(static_cast<size_t>(at::get_num_threads() * width), T(0));
  }
  T* mine() {
    if (!out) return nullptr;
    return direct ? out : buf.data() + at::get_thread_num() * width;
  }
  void reduce() {
    if (!out || direct) return;
    const int64_t threads = static_cast<int64_t>(buf.size()) / width;
    for (int64_t th = 0; th < threads; ++th)
      for (int64_t j = 0; j < width; ++j) out[j] += buf[th * width + j];
  }
};

// ---- one step, on raw pointers ---------------------------------------------------------------

// y = a + b + LN(x) * w per block of H (K blocks per row); a, b may be null.
template <typename T>
void block_ln_forward_impl(int64_t B, int64_t K, int64_t H, double eps, const T* x, const T* w,
                           const T* a, const T* b, T* y, T* mu, T* rs) {
  const int64_t G = K * H;
  at::parallel_for(0, B, grain(G), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t k = 0; k < K; ++k) {
        const int64_t o = r * G + k * H;
        T m, s;
        moments(x + o, H, eps, m, s);
        mu[r * K + k] = m;
        rs[r * K + k] = s;
        const T* wk = w + k * H;
        const T* bk = b ? b + k * H : nullptr;
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) {
          T v = (x[o + j] - m) * s * wk[j];
          if (a) v += a[o + j];
          if (bk) v += bk[j];
          y[o + j] = v;
        }
      }
    }
  });
}

// dx from dy of block_ln_forward_impl; dgain, dbias (may be null) accumulate.
template <typename T>
void block_ln_backward_impl(int64_t B, int64_t K, int64_t H, const T* dy, const T* x,
                            const T* mu, const T* rs, const T* w, T* dx, T* dgain, T* dbias) {
  const int64_t G = K * H;
  Partials<T> pw(dgain, G, B, grain(G)), pb(dbias, G, B, grain(G));
  at::parallel_for(0, B, grain(G), [&](int64_t r0, int64_t r1) {
    T *dw = pw.mine(), *db = pb.mine();
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t o = r * G + k * H;
        ln_backward(dy + o, w + k * H, x + o, mu[r * K + k], rs[r * K + k], H, dx + o, false,
                    dw ? dw + k * H : nullptr, db ? db + k * H : nullptr);
      }
  });
  pw.reduce();
  pb.reduce();
}

// LSTM step from pre-activations a (B, 4H) [i f g o] (plus `add` when not null), overwritten
// with the activations; c_new = f c + i g; tc = tanh(c_new), or tanh(LN_c(c_new)) when w
// (LN_c's gain) is not null (then mu, rs (B) are written); h = o tc.
template <typename T>
void lstm_forward_impl(int64_t B, int64_t H, double eps, T* a, const T* add, const T* c,
                       const T* w, const T* b, T* cn, T* tc, T* h, T* mu, T* rs) {
  at::parallel_for(0, B, grain(4 * H), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T *ai = a + r * 4 * H, *af = ai + H, *ag = af + H, *ao = ag + H;
      if (add) {
        const T* xr = add + r * 4 * H;
        _Pragma("omp simd")
        for (int64_t j = 0; j < 4 * H; ++j) ai[j] += xr[j];
      }
      const T* cr = c + r * H;
      T *cnr = cn + r * H, *tr = tc + r * H, *hr = h + r * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const T i = sigmoid(ai[j]), f = sigmoid(af[j]), g = tanh_(ag[j]);
        ai[j] = i;
        af[j] = f;
        ag[j] = g;
        ao[j] = sigmoid(ao[j]);
        cnr[j] = f * cr[j] + i * g;
      }
      if (w) {
        T m, s;
        moments(cnr, H, eps, m, s);
        mu[r] = m;
        rs[r] = s;
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) {
          T v = (cnr[j] - m) * s * w[j];
          if (b) v += b[j];
          tr[j] = tanh_(v);
          hr[j] = ao[j] * tr[j];
        }
      } else {
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) {
          tr[j] = tanh_(cnr[j]);
          hr[j] = ao[j] * tr[j];
        }
      }
    }
  });
}

// Backward of lstm_forward_impl. dh, dc (B, H): gradients of h_t and c_t (dc may be null).
// tc may be null: it is then recomputed from c_new (and LN_c's statistics), which saves
// storing it for every step. Writes dg (B, 4H) (of the pre-activations) and dcprev =
// dc_total f; with LN_c (w not null) adds the gradients of its gain and shift into dw, db.
template <typename T>
void lstm_backward_impl(int64_t B, int64_t H, const T* dh, const T* dc, const T* a,
                        const T* tc, const T* c, const T* cn, const T* mu, const T* rs,
                        const T* w, const T* wb, T* dg, T* dcprev, T* dwc, T* dbc) {
  const bool ln = w != nullptr;
  Partials<T> pw(dwc, H, B, grain(4 * H)), pb(dbc, H, B, grain(4 * H));
  at::parallel_for(0, B, grain(4 * H), [&](int64_t r0, int64_t r1) {
    std::vector<T> dn(ln ? H : 0), tc_row(tc ? 0 : H);
    T *dw = pw.mine(), *db = pb.mine();
    for (int64_t r = r0; r < r1; ++r) {
      const T *ai = a + r * 4 * H, *af = ai + H, *ag = af + H, *ao = ag + H;
      const T *dhr = dh + r * H, *cr = c + r * H;
      const T* tr = tc ? tc + r * H : nullptr;
      if (!tc) {  // recompute tanh(c_new), or tanh(LN_c(c_new))
        const T* cnr = cn + r * H;
        T* o = tc_row.data();
        if (ln) {
          const T m = mu[r], sd = rs[r];
          _Pragma("omp simd")
          for (int64_t j = 0; j < H; ++j)
            o[j] = tanh_((cnr[j] - m) * sd * w[j] + (wb ? wb[j] : T(0)));
        } else {
          _Pragma("omp simd")
          for (int64_t j = 0; j < H; ++j) o[j] = tanh_(cnr[j]);
        }
        tr = o;
      }
      T *di = dg + r * 4 * H, *df = di + H, *dgg = df + H, *dO = dgg + H;
      T* dcr = dcprev + r * H;  // holds dc_total until the last loop
      if (ln) {
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) dn[j] = dhr[j] * ao[j] * (T(1) - tr[j] * tr[j]);
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) dcr[j] = dc ? dc[r * H + j] : T(0);
        ln_backward(dn.data(), w, cn + r * H, mu[r], rs[r], H, dcr, true, dw, db);
      } else {
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j)
          dcr[j] = (dc ? dc[r * H + j] : T(0)) + dhr[j] * ao[j] * (T(1) - tr[j] * tr[j]);
      }
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const T i = ai[j], f = af[j], g = ag[j], o = ao[j], d = dcr[j];
        di[j] = d * g * i * (T(1) - i);
        df[j] = d * cr[j] * f * (T(1) - f);
        dgg[j] = d * i * (T(1) - g * g);
        dO[j] = dhr[j] * tr[j] * o * (T(1) - o);
        dcr[j] = d * f;
      }
    }
  });
  pw.reduce();
  pb.reduce();
}

// One row of a GRU step (see gru_forward_impl); the bias is a template argument so that both
// loops vectorise well (a per-element `bias ? bias[j] : 0` made the step about 5x slower).
// Each element's arithmetic is unchanged: the results are the same to the last bit.
template <typename T, bool Bias>
inline void gru_row(int64_t H, const T* __restrict xr, const T* __restrict gr,
                    const T* __restrict hpr, T* __restrict rr, T* __restrict nr,
                    T* __restrict gnr, T* __restrict hr, const T* __restrict bias) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < 2 * H; ++j) rr[j] = sigmoid(xr[j] + gr[j] + (Bias ? bias[j] : T(0)));
  _Pragma("omp simd")
  for (int64_t j = 0; j < H; ++j) {
    const T ghj = gr[2 * H + j] + (Bias ? bias[2 * H + j] : T(0));
    gnr[j] = ghj;
    const T nj = tanh_(xr[2 * H + j] + rr[j] * ghj);
    nr[j] = nj;
    hr[j] = nj + rr[H + j] * (hpr[j] - nj);
  }
}

// GRU step: r, z = σ(gx + gh) (first 2H), n = tanh(gx_n + r gh_n), h = n + z (h_prev - n),
// with gh = g + bias (bias (3H) may be null). Stores rz (B, 2H), n (B, H), ghn = gh_n (B, H).
template <typename T>
void gru_forward_impl(int64_t B, int64_t H, const T* x, const T* g, const T* hp, T* rz, T* n,
                      T* gn, T* h, const T* bias = nullptr) {
  at::parallel_for(0, B, grain(3 * H), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T *xr = x + r * 3 * H, *gr = g + r * 3 * H, *hpr = hp + r * H;
      T *rr = rz + r * 2 * H, *nr = n + r * H, *gnr = gn + r * H, *hr = h + r * H;
      if (bias) {
        gru_row<T, true>(H, xr, gr, hpr, rr, nr, gnr, hr, bias);
      } else {
        gru_row<T, false>(H, xr, gr, hpr, rr, nr, gnr, hr, nullptr);
      }
    }
  });
}

// Backward of gru_forward_impl: dx (B, 3H), dg (B, 3H) and the direct gradient dhp = dh z.
template <typename T>
void gru_backward_impl(int64_t B, int64_t H, const T* d, const T* rz, const T* n, const T* gn,
                       const T* hp, T* dx, T* dg, T* dhp) {
  at::parallel_for(0, B, grain(3 * H), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T *dr = d + r * H, *rr = rz + r * 2 * H, *nr = n + r * H, *gnr = gn + r * H,
              *hpr = hp + r * H;
      T *dxr = dx + r * 3 * H, *dgr = dg + r * 3 * H, *dhpr = dhp + r * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const T rj = rr[j], zj = rr[H + j], nj = nr[j], dj = dr[j];
        const T dn = dj * (T(1) - zj) * (T(1) - nj * nj);
        const T dr_ = dn * gnr[j] * rj * (T(1) - rj);
        const T dz = dj * (hpr[j] - nj) * zj * (T(1) - zj);
        dxr[j] = dr_;
        dxr[H + j] = dz;
        dxr[2 * H + j] = dn;
        dgr[j] = dr_;
        dgr[H + j] = dz;
        dgr[2 * H + j] = dn * rj;
        dhpr[j] = dj * zj;
      }
    }
  });
}

// out[j] = a[j] * m[j] (or a + b * m: addcmul) over n elements.
template <typename T> void mul_into(int64_t n, const T* a, const T* m, T* out) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < n; ++j) out[j] = a[j] * m[j];
}

template <typename T> void add_into(int64_t n, const T* a, T* out) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < n; ++j) out[j] += a[j];
}

}  // namespace

// ---- one step, callable from Python (the families' masked path) ------------------------------

// out = add + bias + LN(raw) * gain, normalising each of K blocks of H per row (add and bias
// may be empty).
void block_ln_forward(const torch::Tensor& raw, const torch::Tensor& gain,
                      const torch::Tensor& add, const torch::Tensor& bias, int64_t K, double eps,
                      torch::Tensor& out, torch::Tensor& mean, torch::Tensor& rstd) {
  check_all("block_ln_forward", raw, gain, add, bias, out, mean, rstd);
  const int64_t B = raw.size(0), G = raw.size(1);
  AT_DISPATCH_FLOATING_TYPES(raw.scalar_type(), "block_ln_forward", [&] {
    block_ln_forward_impl<scalar_t>(B, K, G / K, eps, ptr<scalar_t>(raw), ptr<scalar_t>(gain),
                                    ptr<scalar_t>(add), ptr<scalar_t>(bias), ptr<scalar_t>(out),
                                    ptr<scalar_t>(mean), ptr<scalar_t>(rstd));
  });
}

// d raw from d out of block_ln_forward (the gain is applied to dout first). dgain, dbias
// (K*H, may be empty): the gain's and bias's gradients are added into them.
void block_ln_backward(const torch::Tensor& dout, const torch::Tensor& raw,
                       const torch::Tensor& mean, const torch::Tensor& rstd,
                       const torch::Tensor& gain, int64_t K, torch::Tensor& draw,
                       torch::Tensor& dgain, torch::Tensor& dbias) {
  check_all("block_ln_backward", dout, raw, mean, rstd, gain, draw, dgain, dbias);
  const int64_t B = raw.size(0), G = raw.size(1);
  AT_DISPATCH_FLOATING_TYPES(raw.scalar_type(), "block_ln_backward", [&] {
    block_ln_backward_impl<scalar_t>(B, K, G / K, ptr<scalar_t>(dout), ptr<scalar_t>(raw),
                                     ptr<scalar_t>(mean), ptr<scalar_t>(rstd),
                                     ptr<scalar_t>(gain), ptr<scalar_t>(draw),
                                     ptr<scalar_t>(dgain), ptr<scalar_t>(dbias));
  });
}

// See lstm_forward_impl; wc empty: no LN_c.
void lstm_forward(torch::Tensor& act, const torch::Tensor& c_prev, const torch::Tensor& wc,
                  const torch::Tensor& bc, double eps, torch::Tensor& c_new, torch::Tensor& tc,
                  torch::Tensor& h, torch::Tensor& mean_c, torch::Tensor& rstd_c,
                  const torch::Tensor& add) {
  check_all("lstm_forward", act, c_prev, wc, bc, c_new, tc, h, mean_c, rstd_c, add);
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_forward", [&] {
    using T = scalar_t;
    lstm_forward_impl<T>(c_prev.size(0), c_prev.size(1), eps, ptr<T>(act), ptr<T>(add),
                         ptr<T>(c_prev), ptr<T>(wc), ptr<T>(bc), ptr<T>(c_new), ptr<T>(tc),
                         ptr<T>(h), ptr<T>(mean_c), ptr<T>(rstd_c));
  });
}

// See lstm_backward_impl; tc, dc, wc may be empty.
void lstm_backward(const torch::Tensor& dh, const torch::Tensor& dc, const torch::Tensor& act,
                   const torch::Tensor& tc, const torch::Tensor& c_prev,
                   const torch::Tensor& c_new, const torch::Tensor& mean_c,
                   const torch::Tensor& rstd_c, const torch::Tensor& wc, const torch::Tensor& bc,
                   torch::Tensor& dgates, torch::Tensor& dc_prev, torch::Tensor& dwc,
                   torch::Tensor& dbc) {
  check_all("lstm_backward", dh, dc, act, tc, c_prev, c_new, mean_c, rstd_c, wc, bc, dgates,
            dc_prev, dwc, dbc);
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_backward", [&] {
    using T = scalar_t;
    lstm_backward_impl<T>(c_prev.size(0), c_prev.size(1), ptr<T>(dh), ptr<T>(dc), ptr<T>(act),
                          ptr<T>(tc), ptr<T>(c_prev), ptr<T>(c_new), ptr<T>(mean_c),
                          ptr<T>(rstd_c), ptr<T>(wc), ptr<T>(bc), ptr<T>(dgates),
                          ptr<T>(dc_prev), ptr<T>(dwc), ptr<T>(dbc));
  });
}

void gru_forward(const torch::Tensor& gx, const torch::Tensor& gh, const torch::Tensor& h_prev,
                 torch::Tensor& rz, torch::Tensor& n, torch::Tensor& ghn, torch::Tensor& h) {
  check_all("gru_forward", gx, gh, h_prev, rz, n, ghn, h);
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "gru_forward", [&] {
    using T = scalar_t;
    gru_forward_impl<T>(h_prev.size(0), h_prev.size(1), ptr<T>(gx), ptr<T>(gh), ptr<T>(h_prev),
                        ptr<T>(rz), ptr<T>(n), ptr<T>(ghn), ptr<T>(h));
  });
}

void gru_backward(const torch::Tensor& dh, const torch::Tensor& rz, const torch::Tensor& n,
                  const torch::Tensor& ghn, const torch::Tensor& h_prev, torch::Tensor& dgx,
                  torch::Tensor& dgh, torch::Tensor& dh_prev) {
  check_all("gru_backward", dh, rz, n, ghn, h_prev, dgx, dgh, dh_prev);
  AT_DISPATCH_FLOATING_TYPES(dh.scalar_type(), "gru_backward", [&] {
    using T = scalar_t;
    gru_backward_impl<T>(h_prev.size(0), h_prev.size(1), ptr<T>(dh), ptr<T>(rz), ptr<T>(n),
                         ptr<T>(ghn), ptr<T>(h_prev), ptr<T>(dgx), ptr<T>(dgh),
                         ptr<T>(dh_prev));
  });
}

// ---------------------------------------------------------------------------------------------
// Whole time loops, for a layer without lengths or zoneout: the same steps as above, driven
// from C++ so that a step costs no Python. `mask` (B, H), may be empty: the recurrent-dropout
// mask (already scaled), applied to h_{t-1} before the recurrent product. Buffers are the
// families' (rnnkit/kernels/families.py, layernorm.py); empty tensors stand for what a cell
// does not have. States: hs, cs (T+1, B, H) with hs[0], cs[0] the initial state.

// LSTM (wc empty) or layer-norm LSTM (gain, wc defined: ghr, mean, rstd, mean_c, rstd_c used).
void lstm_loop_forward(const torch::Tensor& gx, const torch::Tensor& Wt, const torch::Tensor& gain,
                       const torch::Tensor& bias, const torch::Tensor& wc,
                       const torch::Tensor& bc, double eps, torch::Tensor& hs, torch::Tensor& cs,
                       torch::Tensor& act, torch::Tensor& tc, torch::Tensor& ghr,
                       torch::Tensor& mean, torch::Tensor& rstd, torch::Tensor& mean_c,
                       torch::Tensor& rstd_c, const torch::Tensor& mask) {
  check_all("lstm_loop_forward", gx, hs, cs, gain, bias, wc, bc, mask);
  check_steps_all("lstm_loop_forward", act, tc, ghr, mean, rstd, mean_c, rstd_c);
  const int64_t T = gx.size(0), B = gx.size(1), H = hs.size(2);
  const bool ln = gain.numel() > 0, masked = mask.numel() > 0;
  torch::Tensor h_in = masked ? torch::empty_like(mask) : torch::Tensor();
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "lstm_loop_forward", [&] {
    using S = scalar_t;
    const S *x = ptr<S>(gx), *m = ptr<S>(mask);
    S *h = ptr<S>(hs), *c = ptr<S>(cs);
    const int64_t BH = B * H, BG = B * 4 * H;
    for (int64_t t = 0; t < T; ++t) {
      torch::Tensor h_prev = hs[t];
      if (masked) {
        mul_into<S>(BH, h + t * BH, m, ptr<S>(h_in));
        h_prev = h_in;
      }
      S* a = step<S>(act, t);
      if (ln) {
        auto raw = ghr[t];
        at::mm_out(raw, h_prev, Wt);
        block_ln_forward_impl<S>(B, 4, H, eps, ptr<S>(raw), ptr<S>(gain), x + t * BG,
                                 ptr<S>(bias), a, step<S>(mean, t), step<S>(rstd, t));
      } else {
        auto out = act[t];
        at::mm_out(out, h_prev, Wt);  // + gx[t], added inside lstm_forward_impl
      }
      lstm_forward_impl<S>(B, H, eps, a, ln ? nullptr : x + t * BG, c + t * BH, ptr<S>(wc),
                           ptr<S>(bc), c + (t + 1) * BH, step<S>(tc, t), h + (t + 1) * BH,
                           step<S>(mean_c, t), step<S>(rstd_c, t));
    }
  });
}

// Returns (dh0, dc0); writes dgx (T, B, 4H), dgh (T, B, 4H) (the raw product's gradient; with
// no layer norm dgh is dgx and may be the same tensor); with layer norm, adds the gradients of
// the recurrent gain, b_hh and LN_c's gain and shift into dgain, dbias, dwc, dbc. tanh(c_t) is
// not stored per step: it is recomputed from c_t.
std::vector<torch::Tensor> lstm_loop_backward(
    const torch::Tensor& dy, const torch::Tensor& dhT, const torch::Tensor& dcT,
    const torch::Tensor& W, const torch::Tensor& gain, const torch::Tensor& wc,
    const torch::Tensor& bc, double eps, const torch::Tensor& hs, const torch::Tensor& cs,
    const torch::Tensor& act, const torch::Tensor& tc, const torch::Tensor& ghr,
    const torch::Tensor& mean, const torch::Tensor& rstd, const torch::Tensor& mean_c,
    const torch::Tensor& rstd_c, torch::Tensor& dgx, torch::Tensor& dgh, torch::Tensor& dgain,
    torch::Tensor& dbias, torch::Tensor& dwc, torch::Tensor& dbc, const torch::Tensor& mask) {
  check_all("lstm_loop_backward", dy, dhT, dcT, hs, cs, act, ghr, mean, rstd, mean_c, rstd_c,
            dgx, dgh, gain, wc, bc, dgain, dbias, dwc, dbc, mask);
  const int64_t T = act.size(0), B = act.size(1), H = hs.size(2);
  const bool ln = gain.numel() > 0, masked = mask.numel() > 0;
  torch::Tensor dh = dhT.clone(), dc = dcT.clone(), dc_prev = torch::empty_like(dcT);
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_loop_backward", [&] {
    using S = scalar_t;
    const S *y = ptr<S>(dy), *m = ptr<S>(mask), *c = ptr<S>(cs), *a = ptr<S>(act);
    const int64_t BH = B * H, BG = B * 4 * H;
    for (int64_t t = T - 1; t >= 0; --t) {
      if (y) add_into<S>(BH, y + t * BH, ptr<S>(dh));
      S* dgxt = ptr<S>(dgx) + t * BG;
      lstm_backward_impl<S>(B, H, ptr<S>(dh), ptr<S>(dc), a + t * BG, nullptr, c + t * BH,
                            c + (t + 1) * BH, ln ? ptr<S>(mean_c) + t * B : nullptr,
                            ln ? ptr<S>(rstd_c) + t * B : nullptr, ptr<S>(wc), ptr<S>(bc),
                            dgxt, ptr<S>(dc_prev), ptr<S>(dwc), ptr<S>(dbc));
      if (ln)
        block_ln_backward_impl<S>(B, 4, H, dgxt, ptr<S>(ghr) + t * BG, ptr<S>(mean) + t * B * 4,
                                  ptr<S>(rstd) + t * B * 4, ptr<S>(gain),
                                  ptr<S>(dgh) + t * BG, ptr<S>(dgain), ptr<S>(dbias));
      at::mm_out(dh, dgh[t], W);
      if (masked) mul_into<S>(BH, ptr<S>(dh), m, ptr<S>(dh));
      std::swap(dc, dc_prev);
    }
  });
  return {dh, dc};
}

// GRU (gain empty) or layer-norm GRU. bias: b_hh (added after the norm), may be empty.
void gru_loop_forward(const torch::Tensor& gx, const torch::Tensor& Wt, const torch::Tensor& gain,
                      const torch::Tensor& bias, double eps, torch::Tensor& hs, torch::Tensor& rz,
                      torch::Tensor& n, torch::Tensor& ghn, torch::Tensor& ghr,
                      torch::Tensor& mean, torch::Tensor& rstd, const torch::Tensor& mask) {
  check_all("gru_loop_forward", gx, hs, gain, bias, mask);
  check_steps_all("gru_loop_forward", rz, n, ghn, ghr, mean, rstd);
  const int64_t T = gx.size(0), B = gx.size(1), G = gx.size(2), H = hs.size(2);
  const bool ln = gain.numel() > 0, has_bias = bias.numel() > 0, masked = mask.numel() > 0;
  torch::Tensor gh = torch::empty({B, G}, gx.options());
  torch::Tensor h_in = masked ? torch::empty_like(mask) : torch::Tensor();
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "gru_loop_forward", [&] {
    using S = scalar_t;
    const S *x = ptr<S>(gx), *m = ptr<S>(mask);
    S* h = ptr<S>(hs);
    const int64_t BH = B * H;
    for (int64_t t = 0; t < T; ++t) {
      torch::Tensor h_prev = hs[t];
      if (masked) {
        mul_into<S>(BH, h + t * BH, m, ptr<S>(h_in));
        h_prev = h_in;
      }
      if (ln) {
        auto raw = ghr[t];
        at::mm_out(raw, h_prev, Wt);
        block_ln_forward_impl<S>(B, 3, H, eps, ptr<S>(raw), ptr<S>(gain), nullptr,
                                 ptr<S>(bias), ptr<S>(gh), step<S>(mean, t), step<S>(rstd, t));
      } else {
        at::mm_out(gh, h_prev, Wt);  // + b_hh, added inside gru_forward_impl
      }
      gru_forward_impl<S>(B, H, x + t * B * G, ptr<S>(gh), h + t * BH, step<S>(rz, t),
                          step<S>(n, t), step<S>(ghn, t), h + (t + 1) * BH,
                          ln || !has_bias ? nullptr : ptr<S>(bias));
    }
  });
}

// Returns dh0; writes dgx (T, B, 3H) and dgh: with layer norm (T, B, 3H), the raw product's
// gradient, and the gradients of the recurrent gain and b_hh are added into dgain, dbias;
// without, (T, B, H): only the n block, since the r and z blocks equal dgx's.
torch::Tensor gru_loop_backward(const torch::Tensor& dy, const torch::Tensor& dhT,
                                const torch::Tensor& W, const torch::Tensor& gain,
                                const torch::Tensor& hs, const torch::Tensor& rz,
                                const torch::Tensor& n, const torch::Tensor& ghn,
                                const torch::Tensor& ghr, const torch::Tensor& mean,
                                const torch::Tensor& rstd, torch::Tensor& dgx, torch::Tensor& dgh,
                                torch::Tensor& dgain, torch::Tensor& dbias,
                                const torch::Tensor& mask) {
  check_all("gru_loop_backward", dy, dhT, hs, rz, n, ghn, ghr, mean, rstd, dgx, dgh, gain,
            dgain, dbias, mask);
  const int64_t T = rz.size(0), B = rz.size(1), H = hs.size(2), G = 3 * H;
  const bool ln = gain.numel() > 0, masked = mask.numel() > 0;
  torch::Tensor dh = dhT.clone(), dh_prev = torch::empty_like(dhT);
  torch::Tensor through = masked ? torch::empty_like(dhT) : torch::Tensor();
  torch::Tensor dp = torch::empty({B, G}, dgx.options());  // this step's d(gh)
  AT_DISPATCH_FLOATING_TYPES(dgx.scalar_type(), "gru_loop_backward", [&] {
    using S = scalar_t;
    const S *y = ptr<S>(dy), *m = ptr<S>(mask), *h = ptr<S>(hs);
    const int64_t BH = B * H;
    for (int64_t t = T - 1; t >= 0; --t) {
      if (y) add_into<S>(BH, y + t * BH, ptr<S>(dh));
      gru_backward_impl<S>(B, H, ptr<S>(dh), ptr<S>(rz) + t * B * 2 * H, ptr<S>(n) + t * BH,
                           ptr<S>(ghn) + t * BH, h + t * BH, ptr<S>(dgx) + t * B * G,
                           ptr<S>(dp), ptr<S>(dh_prev));
      torch::Tensor through_mm;  // the gradient that goes through W_hh this step
      if (ln) {
        block_ln_backward_impl<S>(B, 3, H, ptr<S>(dp), ptr<S>(ghr) + t * B * G,
                                  ptr<S>(mean) + t * B * 3, ptr<S>(rstd) + t * B * 3,
                                  ptr<S>(gain), ptr<S>(dgh) + t * B * G, ptr<S>(dgain),
                                  ptr<S>(dbias));
        through_mm = dgh[t];
      } else {
        S *src = ptr<S>(dp), *dst = ptr<S>(dgh) + t * BH;
        for (int64_t r = 0; r < B; ++r)
          std::copy(src + r * G + 2 * H, src + (r + 1) * G, dst + r * H);
        through_mm = dp;
      }
      if (masked) {
        at::mm_out(through, through_mm, W);
        S *o = ptr<S>(dh), *p = ptr<S>(dh_prev), *q = ptr<S>(through);
        _Pragma("omp simd")
        for (int64_t j = 0; j < BH; ++j) o[j] = p[j] + q[j] * m[j];
      } else {
        at::mm_out(dh, through_mm, W);
        add_into<S>(BH, ptr<S>(dh_prev), ptr<S>(dh));
      }
    }
  });
  return dh;
}

// ---------------------------------------------------------------------------------------------
// minGRU / minLSTM (Feng et al. 2024): gates from the input only, so h_t = a_t h_{t-1} + b_t
// with a_t, b_t known for every step in advance. On the CPU the scan runs sequentially in
// time and vectorised across the B*H channels (rows split over threads), in linear space:
// a_t is in (0, 1) and b_t >= 0, so the recurrence is a contraction and needs no log-space
// rescaling; it computes exactly what the one-step mode computes.
//   kind 0, minGRU:  gx = [k_z | k_h], z = σ(k_z), h = h_prev + z (g(k_h) - h_prev)
//   kind 1, minLSTM: gx = [k_f | k_i | k_h], f, i = σ(k_f), σ(k_i),
//                    h = (f h_prev + i g(k_h)) / (f + i)
// with g(x) = x + 1/2 for x >= 0, σ(x) below. valid (T, B) bool (may be empty): a step past
// a sequence's end keeps the state and outputs zero (only trailing steps may be invalid).

namespace {
// Both branches computed and blended by a 0/1 mask (a conditional expression here keeps
// gcc from vectorising the loop); m * p + (1 - m) * s is exact for m in {0, 1}.
template <typename T> inline T g_act(T x) {
  const T s = sigmoid(x), p = (x > T(0) ? x : T(0)) + T(0.5);
  const T m = static_cast<T>(x >= T(0));
  return m * p + (T(1) - m) * s;
}
template <typename T> inline T g_grad(T x) {
  const T s = sigmoid(x), m = static_cast<T>(x >= T(0));
  return m + (T(1) - m) * s * (T(1) - s);
}

// One row (H channels) of one step; k the row of gx, h the running state (updated), y out.
template <typename T>
void min_row_forward(int64_t kind, const T* __restrict k, T* __restrict h, T* __restrict y,
                     int64_t H) {
  if (kind == 0) {
    _Pragma("omp simd")
    for (int64_t j = 0; j < H; ++j) {
      const T z = sigmoid(k[j]);
      const T v = h[j] + z * (g_act(k[H + j]) - h[j]);
      h[j] = v;
      y[j] = v;
    }
  } else {
    _Pragma("omp simd")
    for (int64_t j = 0; j < H; ++j) {
      const T f = sigmoid(k[j]), i = sigmoid(k[H + j]);
      const T v = (f * h[j] + i * g_act(k[2 * H + j])) / (f + i);
      h[j] = v;
      y[j] = v;
    }
  }
}

// Backward of one row: g the running state gradient (updated), dy the output's gradient,
// hp the previous state; writes dk (the row of dgx).
template <typename T>
void min_row_backward(int64_t kind, const T* __restrict k, const T* __restrict hp,
                      const T* __restrict dy, T* __restrict g, T* __restrict dk, int64_t H) {
  if (kind == 0) {
    _Pragma("omp simd")
    for (int64_t j = 0; j < H; ++j) {
      const T gj = g[j] + dy[j];
      const T z = sigmoid(k[j]), kh = k[H + j], hh = g_act(kh);
      dk[j] = gj * (hh - hp[j]) * z * (T(1) - z);
      dk[H + j] = gj * z * g_grad(kh);
      g[j] = gj * (T(1) - z);
    }
  } else {
    _Pragma("omp simd")
    for (int64_t j = 0; j < H; ++j) {
      const T gj = g[j] + dy[j];
      const T f = sigmoid(k[j]), i = sigmoid(k[H + j]), kh = k[2 * H + j];
      const T hh = g_act(kh), s = f + i, fn = f / s, in = i / s;
      const T d_fn = gj * hp[j], d_in = gj * hh;  // through f' and i'
      dk[j] = (d_fn - d_in) * in / s * f * (T(1) - f);
      dk[H + j] = (d_in - d_fn) * fn / s * i * (T(1) - i);
      dk[2 * H + j] = gj * in * g_grad(kh);
      g[j] = gj * fn;
    }
  }
}
}  // namespace

// Returns (y (T, B, H), h_T (B, H)).
std::vector<torch::Tensor> min_scan_forward(const torch::Tensor& gx, const torch::Tensor& h0,
                                            const torch::Tensor& valid, int64_t kind) {
  check_all("min_scan_forward", gx, h0, valid);
  const int64_t T = gx.size(0), B = gx.size(1), H = h0.size(1), K = gx.size(2);
  TORCH_CHECK(K == (kind == 0 ? 2 : 3) * H, "min_scan_forward: gx must be (T, B, ",
              kind == 0 ? 2 : 3, "H)");
  auto y = torch::empty({T, B, H}, gx.options());
  auto hT = h0.clone();
  const bool* v = valid.numel() > 0 ? valid.data_ptr<bool>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "min_scan_forward", [&] {
    using T_ = scalar_t;
    const T_* k = gx.data_ptr<T_>();
    T_ *out = y.data_ptr<T_>(), *state = hT.data_ptr<T_>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        T_* h = state + b * H;
        for (int64_t t = 0; t < T; ++t) {
          T_* yr = out + (t * B + b) * H;
          if (v && !v[t * B + b]) {
            std::fill(yr, yr + H, T_(0));
            continue;
          }
          min_row_forward(kind, k + (t * B + b) * K, h, yr, H);
        }
      }
    });
  });
  return {y, hT};
}

// Backward of min_scan_forward from dy (T, B, H) (may be empty) and dh_T (B, H).
// Returns (dgx (T, B, K), dh0 (B, H)).
std::vector<torch::Tensor> min_scan_backward(const torch::Tensor& gx, const torch::Tensor& h0,
                                             const torch::Tensor& y, const torch::Tensor& valid,
                                             const torch::Tensor& dy, const torch::Tensor& dhT,
                                             int64_t kind) {
  check_all("min_scan_backward", gx, h0, y, valid, dy, dhT);
  const int64_t T = gx.size(0), B = gx.size(1), H = h0.size(1), K = gx.size(2);
  auto dgx = torch::empty_like(gx);
  auto dh0 = dhT.clone();  // the running gradient of the state, per row
  const bool* v = valid.numel() > 0 ? valid.data_ptr<bool>() : nullptr;
  const bool has_dy = dy.numel() > 0;
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "min_scan_backward", [&] {
    using T_ = scalar_t;
    const T_ *k = gx.data_ptr<T_>(), *ys = y.data_ptr<T_>(), *hinit = h0.data_ptr<T_>(),
             *dys = has_dy ? dy.data_ptr<T_>() : nullptr;
    T_ *dk = dgx.data_ptr<T_>(), *grad = dh0.data_ptr<T_>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      const std::vector<T_> zeros(H, T_(0));
      for (int64_t b = b0; b < b1; ++b) {
        T_* gs = grad + b * H;
        for (int64_t t = T - 1; t >= 0; --t) {
          T_* dkr = dk + (t * B + b) * K;
          if (v && !v[t * B + b]) {
            std::fill(dkr, dkr + K, T_(0));
            continue;
          }
          const T_* hp = t == 0 ? hinit + b * H : ys + ((t - 1) * B + b) * H;
          const T_* dyr = dys ? dys + (t * B + b) * H : zeros.data();
          min_row_backward(kind, k + (t * B + b) * K, hp, dyr, gs, dkr, H);
        }
      }
    });
  });
  return {dgx, dh0};
}

#include "step.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  pybind11::class_<StepPlan>(m, "StepPlan")
      .def(pybind11::init<>())
      .def("add_layer", &StepPlan::add_layer)
      .def("step", &StepPlan::step)
      .def("run", &StepPlan::run)
      .def("num_layers", &StepPlan::num_layers);
  m.def("block_ln_forward", &block_ln_forward);
  m.def("block_ln_backward", &block_ln_backward);
  m.def("lstm_forward", &lstm_forward);
  m.def("lstm_backward", &lstm_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
  m.def("lstm_loop_forward", &lstm_loop_forward);
  m.def("lstm_loop_backward", &lstm_loop_backward);
  m.def("gru_loop_forward", &gru_loop_forward);
  m.def("gru_loop_backward", &gru_loop_backward);
  m.def("min_scan_forward", &min_scan_forward);
  m.def("min_scan_backward", &min_scan_backward);
}
