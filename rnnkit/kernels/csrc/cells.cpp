// Fused per-step arithmetic of the built-in cells, for rnnkit's BPTT kernels on the CPU.
//
// Each function does one time step's element-wise work for a batch in one pass over memory,
// where the Python families issue 10-30 small ATen calls. The recurrent matrix products stay
// in ATen (MKL/oneDNN); the time loop and the bookkeeping stay in rnnkit/kernels/bptt.py.
// The formulas are those of rnnkit/kernels/families.py and layernorm.py, which remain the
// reference (and the fallback where this file cannot be compiled).
//
// Every tensor is contiguous, rows = batch, and of one floating dtype (float32 or float64).
// Rows are independent and split over threads with at::parallel_for.
//
// float32 uses a polynomial exp (Cephes' expf: range reduction by ln 2, degree-5 polynomial,
// about 1 ulp) that the compiler vectorises (with -fno-trapping-math, see native.py); float64 uses std::exp so that gradcheck sees
// exact derivatives.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <utility>
#include <vector>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

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
  return y * std::bit_cast<float>((ni + 127) << 23);  // times 2^n
}

inline float exp_(float x) { return fast_exp(x); }
inline double exp_(double x) { return std::exp(x); }

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + exp_(-x)); }
template <typename T> inline T tanh_(T x) { return T(2) / (T(1) + exp_(T(-2) * x)) - T(1); }
inline double tanh_(double x) { return std::tanh(x); }

// Rows per task: enough work per thread to pay for the hand-off (ATen uses 32768 elements).
inline int64_t grain(int64_t row_width) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, row_width));
}

template <typename T> T* ptr(const torch::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

void check(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(!t.defined() || t.numel() == 0 || t.is_contiguous(), "rnnkit native: ", name,
              " must be contiguous");
  TORCH_CHECK(!t.defined() || t.device().is_cpu(), "rnnkit native: ", name, " must be on the CPU");
}

template <typename... Ts> void check_all(const char* name, const Ts&... ts) {
  (check(ts, name), ...);
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
// `out` (a parameter's gradient). An empty `out` makes mine() null: nothing is accumulated.
// When the rows will run as one task (rows <= grain, or one thread), mine() is `out` itself.
template <typename T> struct Partials {
  T* out;
  int64_t width;
  bool direct;
  std::vector<T> buf;
  Partials(const torch::Tensor& t, int64_t rows, int64_t grain_rows)
      : out(ptr<T>(t)), width(out ? t.numel() : 0),
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

}  // namespace

// out = add + bias + LN(raw) * gain, normalising each of K blocks of H per row (add and bias
// may be empty).
void block_ln_forward(const torch::Tensor& raw, const torch::Tensor& gain,
                      const torch::Tensor& add, const torch::Tensor& bias, int64_t K, double eps,
                      torch::Tensor& out, torch::Tensor& mean, torch::Tensor& rstd) {
  check_all("block_ln_forward", raw, gain, add, bias, out, mean, rstd);
  const int64_t B = raw.size(0), G = raw.size(1), H = G / K;
  AT_DISPATCH_FLOATING_TYPES(raw.scalar_type(), "block_ln_forward", [&] {
    using T = scalar_t;
    const T *x = ptr<T>(raw), *w = ptr<T>(gain), *a = ptr<T>(add), *b = ptr<T>(bias);
    T *y = ptr<T>(out), *mu = ptr<T>(mean), *rs = ptr<T>(rstd);
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
  });
}

// d raw from d out of block_ln_forward (the gain is applied to dout first). dgain, dbias
// (K*H, may be empty): the gain's and bias's gradients are added into them.
void block_ln_backward(const torch::Tensor& dout, const torch::Tensor& raw,
                       const torch::Tensor& mean, const torch::Tensor& rstd,
                       const torch::Tensor& gain, int64_t K, torch::Tensor& draw,
                       torch::Tensor& dgain, torch::Tensor& dbias) {
  check_all("block_ln_backward", dout, raw, mean, rstd, gain, draw, dgain, dbias);
  const int64_t B = raw.size(0), G = raw.size(1), H = G / K;
  AT_DISPATCH_FLOATING_TYPES(raw.scalar_type(), "block_ln_backward", [&] {
    using T = scalar_t;
    const T *dy = ptr<T>(dout), *x = ptr<T>(raw), *mu = ptr<T>(mean), *rs = ptr<T>(rstd),
            *w = ptr<T>(gain);
    T* dx = ptr<T>(draw);
    Partials<T> pw(dgain, B, grain(G)), pb(dbias, B, grain(G));
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
  });
}

// LSTM step from pre-activations act (B, 4H) [i f g o] (plus `add` (B, 4H) when given),
// overwritten with the activations.
// c_new = f c + i g; tc = tanh(c_new), or tanh(LN_c(c_new)) when wc is defined (then mean_c,
// rstd_c (B) are written); h = o tc.
void lstm_forward(torch::Tensor& act, const torch::Tensor& c_prev, const torch::Tensor& wc,
                  const torch::Tensor& bc, double eps, torch::Tensor& c_new, torch::Tensor& tc,
                  torch::Tensor& h, torch::Tensor& mean_c, torch::Tensor& rstd_c,
                  const torch::Tensor& add) {
  check_all("lstm_forward", act, c_prev, wc, bc, c_new, tc, h, mean_c, rstd_c, add);
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  const bool ln = wc.defined() && wc.numel() > 0;
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_forward", [&] {
    using T = scalar_t;
    T *a = ptr<T>(act), *cn = ptr<T>(c_new), *t = ptr<T>(tc), *hh = ptr<T>(h);
    const T *c = ptr<T>(c_prev), *w = ptr<T>(wc), *b = ptr<T>(bc), *x = ptr<T>(add);
    T *mu = ptr<T>(mean_c), *rs = ptr<T>(rstd_c);
    at::parallel_for(0, B, grain(4 * H), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        T *ai = a + r * 4 * H, *af = ai + H, *ag = af + H, *ao = ag + H;
        if (x) {
          const T* xr = x + r * 4 * H;
          _Pragma("omp simd")
          for (int64_t j = 0; j < 4 * H; ++j) ai[j] += xr[j];
        }
        const T* cr = c + r * H;
        T *cnr = cn + r * H, *tr = t + r * H, *hr = hh + r * H;
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) {
          const T i = sigmoid(ai[j]), f = sigmoid(af[j]), g = tanh_(ag[j]);
          ai[j] = i;
          af[j] = f;
          ag[j] = g;
          ao[j] = sigmoid(ao[j]);
          cnr[j] = f * cr[j] + i * g;
        }
        if (ln) {
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
  });
}

// Backward of lstm_forward. dh, dc (B, H): gradients of h_t and c_t (dc may be undefined).
// tc may be empty: it is then recomputed from c_new (and LN_c's statistics), which saves
// storing it for every step.
// Writes dgates (B, 4H) (of the pre-activations) and dc_prev = dc_total f; with LN_c, adds
// the gradients of its gain and shift into dwc, dbc (H).
void lstm_backward(const torch::Tensor& dh, const torch::Tensor& dc, const torch::Tensor& act,
                   const torch::Tensor& tc, const torch::Tensor& c_prev,
                   const torch::Tensor& c_new, const torch::Tensor& mean_c,
                   const torch::Tensor& rstd_c, const torch::Tensor& wc, const torch::Tensor& bc,
                   torch::Tensor& dgates, torch::Tensor& dc_prev, torch::Tensor& dwc,
                   torch::Tensor& dbc) {
  check_all("lstm_backward", dh, dc, act, tc, c_prev, c_new, mean_c, rstd_c, wc, bc, dgates,
            dc_prev, dwc, dbc);
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  const bool ln = wc.defined() && wc.numel() > 0;
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_backward", [&] {
    using T = scalar_t;
    const T *dhp = ptr<T>(dh), *dcp = ptr<T>(dc), *a = ptr<T>(act), *t = ptr<T>(tc),
            *c = ptr<T>(c_prev), *cn = ptr<T>(c_new), *mu = ptr<T>(mean_c), *rs = ptr<T>(rstd_c),
            *w = ptr<T>(wc), *wb = ptr<T>(bc);
    T *dg = ptr<T>(dgates), *dcprev = ptr<T>(dc_prev);
    Partials<T> pw(dwc, B, grain(4 * H)), pb(dbc, B, grain(4 * H));
    at::parallel_for(0, B, grain(4 * H), [&](int64_t r0, int64_t r1) {
      std::vector<T> dn(ln ? H : 0), tc_row(t ? 0 : H);
      T *dw = pw.mine(), *db = pb.mine();
      for (int64_t r = r0; r < r1; ++r) {
        const T *ai = a + r * 4 * H, *af = ai + H, *ag = af + H, *ao = ag + H;
        const T *dhr = dhp + r * H, *cr = c + r * H;
        const T* tr = t ? t + r * H : nullptr;
        if (!t) {  // recompute tanh(c_new), or tanh(LN_c(c_new))
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
          for (int64_t j = 0; j < H; ++j) dcr[j] = dcp ? dcp[r * H + j] : T(0);
          ln_backward(dn.data(), w, cn + r * H, mu[r], rs[r], H, dcr, true, dw, db);
        } else {
          _Pragma("omp simd")
          for (int64_t j = 0; j < H; ++j)
            dcr[j] = (dcp ? dcp[r * H + j] : T(0)) + dhr[j] * ao[j] * (T(1) - tr[j] * tr[j]);
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
  });
}

// GRU step: r, z = σ(gx + gh) (first 2H), n = tanh(gx_n + r gh_n), h = n + z (h_prev - n).
// Stores rz (B, 2H), n (B, H), ghn = gh_n (B, H) for the backward.
void gru_forward(const torch::Tensor& gx, const torch::Tensor& gh, const torch::Tensor& h_prev,
                 torch::Tensor& rz, torch::Tensor& n, torch::Tensor& ghn, torch::Tensor& h) {
  check_all("gru_forward", gx, gh, h_prev, rz, n, ghn, h);
  const int64_t B = h_prev.size(0), H = h_prev.size(1);
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "gru_forward", [&] {
    using T = scalar_t;
    const T *x = ptr<T>(gx), *g = ptr<T>(gh), *hp = ptr<T>(h_prev);
    T *rzp = ptr<T>(rz), *np = ptr<T>(n), *gn = ptr<T>(ghn), *hn = ptr<T>(h);
    at::parallel_for(0, B, grain(3 * H), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T *xr = x + r * 3 * H, *gr = g + r * 3 * H, *hpr = hp + r * H;
        T *rr = rzp + r * 2 * H, *nr = np + r * H, *gnr = gn + r * H, *hr = hn + r * H;
        _Pragma("omp simd")
        for (int64_t j = 0; j < 2 * H; ++j) rr[j] = sigmoid(xr[j] + gr[j]);
        _Pragma("omp simd")
        for (int64_t j = 0; j < H; ++j) {
          const T ghj = gr[2 * H + j];
          gnr[j] = ghj;
          const T nj = tanh_(xr[2 * H + j] + rr[j] * ghj);
          nr[j] = nj;
          hr[j] = nj + rr[H + j] * (hpr[j] - nj);
        }
      }
    });
  });
}

// Backward of gru_forward: dgx (B, 3H), dgh (B, 3H) and the direct gradient dh_prev = dh z.
void gru_backward(const torch::Tensor& dh, const torch::Tensor& rz, const torch::Tensor& n,
                  const torch::Tensor& ghn, const torch::Tensor& h_prev, torch::Tensor& dgx,
                  torch::Tensor& dgh, torch::Tensor& dh_prev) {
  check_all("gru_backward", dh, rz, n, ghn, h_prev, dgx, dgh, dh_prev);
  const int64_t B = h_prev.size(0), H = h_prev.size(1);
  AT_DISPATCH_FLOATING_TYPES(dh.scalar_type(), "gru_backward", [&] {
    using T = scalar_t;
    const T *d = ptr<T>(dh), *rzp = ptr<T>(rz), *np = ptr<T>(n), *gn = ptr<T>(ghn),
            *hp = ptr<T>(h_prev);
    T *dx = ptr<T>(dgx), *dg = ptr<T>(dgh), *dhp = ptr<T>(dh_prev);
    at::parallel_for(0, B, grain(3 * H), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T *dr = d + r * H, *rr = rzp + r * 2 * H, *nr = np + r * H, *gnr = gn + r * H,
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
  // Per-step buffers may be one slot expanded over T (inference): indexing t still works.
  const int64_t T = gx.size(0);
  const bool ln = gain.defined() && gain.numel() > 0;
  const bool masked = mask.numel() > 0;
  torch::Tensor h_in = masked ? torch::empty_like(mask) : torch::Tensor();
  const torch::Tensor none;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t k = t;
    auto a = act[k];
    auto h = hs[t];
    if (masked) h = at::mul_out(h_in, h, mask);
    if (ln) {
      auto raw = ghr[k];
      at::mm_out(raw, h, Wt);
      auto mu = mean[k], rs = rstd[k];
      block_ln_forward(raw, gain, gx[t], bias, 4, eps, a, mu, rs);
    } else {
      at::mm_out(a, h, Wt);  // + gx[t], added inside lstm_forward
    }
    auto c_new = cs[t + 1], h_new = hs[t + 1], tck = tc[k];
    auto mc = ln ? mean_c[k] : torch::Tensor(), rc = ln ? rstd_c[k] : torch::Tensor();
    lstm_forward(a, cs[t], wc, bc, eps, c_new, tck, h_new, mc, rc, ln ? none : gx[t]);
  }
}

// Returns (dh0, dc0); writes dgx (T, B, 4H), dgh (T, B, 4H) (the raw product's gradient; with
// no layer norm dgh is dgx and may be the same tensor); with layer norm, adds the gradients of
// the recurrent gain, b_hh and LN_c's gain and shift into dgain, dbias, dwc, dbc.
std::vector<torch::Tensor> lstm_loop_backward(
    const torch::Tensor& dy, const torch::Tensor& dhT, const torch::Tensor& dcT,
    const torch::Tensor& W, const torch::Tensor& gain, const torch::Tensor& wc,
    const torch::Tensor& bc, double eps,
    const torch::Tensor& hs, const torch::Tensor& cs, const torch::Tensor& act,
    const torch::Tensor& tc, const torch::Tensor& ghr, const torch::Tensor& mean,
    const torch::Tensor& rstd, const torch::Tensor& mean_c, const torch::Tensor& rstd_c,
    torch::Tensor& dgx, torch::Tensor& dgh, torch::Tensor& dgain, torch::Tensor& dbias,
    torch::Tensor& dwc, torch::Tensor& dbc, const torch::Tensor& mask) {
  const int64_t T = act.size(0);
  const bool ln = gain.defined() && gain.numel() > 0;
  const bool has_dy = dy.defined() && dy.numel() > 0;
  const bool masked = mask.numel() > 0;
  torch::Tensor dh = dhT.clone(), dc = dcT.clone(), dc_prev = torch::empty_like(dcT);
  const torch::Tensor none;
  for (int64_t t = T - 1; t >= 0; --t) {
    if (has_dy) dh.add_(dy[t]);
    auto dgxt = dgx[t];
    // tc is not stored per step (one slot): lstm_backward recomputes it from c_t.
    lstm_backward(dh, dc, act[t], none, cs[t], cs[t + 1], ln ? mean_c[t] : none,
                  ln ? rstd_c[t] : none, wc, bc, dgxt, dc_prev, dwc, dbc);
    auto dght = dgh[t];
    if (ln) block_ln_backward(dgxt, ghr[t], mean[t], rstd[t], gain, 4, dght, dgain, dbias);
    at::mm_out(dh, dght, W);
    if (masked) dh.mul_(mask);
    std::swap(dc, dc_prev);
  }
  return {dh, dc};
}

// GRU (gain empty) or layer-norm GRU. bias: b_hh (added after the norm), may be empty.
void gru_loop_forward(const torch::Tensor& gx, const torch::Tensor& Wt, const torch::Tensor& gain,
                      const torch::Tensor& bias, double eps, torch::Tensor& hs, torch::Tensor& rz,
                      torch::Tensor& n, torch::Tensor& ghn, torch::Tensor& ghr,
                      torch::Tensor& mean, torch::Tensor& rstd, const torch::Tensor& mask) {
  const int64_t T = gx.size(0), B = gx.size(1), G = gx.size(2);
  const bool ln = gain.defined() && gain.numel() > 0;
  const bool has_bias = bias.defined() && bias.numel() > 0;
  const bool masked = mask.numel() > 0;
  torch::Tensor gh = torch::empty({B, G}, gx.options());
  torch::Tensor h_in = masked ? torch::empty_like(mask) : torch::Tensor();
  const torch::Tensor none;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t k = t;
    auto h = hs[t];
    if (masked) h = at::mul_out(h_in, h, mask);
    if (ln) {
      auto raw = ghr[k];
      at::mm_out(raw, h, Wt);
      auto mu = mean[k], rs = rstd[k];
      block_ln_forward(raw, gain, none, bias, 3, eps, gh, mu, rs);
    } else if (has_bias) {
      at::addmm_out(gh, bias, h, Wt);
    } else {
      at::mm_out(gh, h, Wt);
    }
    auto rzk = rz[k], nk = n[k], ghnk = ghn[k], h_new = hs[t + 1];
    gru_forward(gx[t], gh, hs[t], rzk, nk, ghnk, h_new);
  }
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
  const int64_t T = rz.size(0);
  const bool ln = gain.defined() && gain.numel() > 0;
  const bool has_dy = dy.defined() && dy.numel() > 0;
  const bool masked = mask.numel() > 0;
  torch::Tensor dh = dhT.clone(), dh_prev = torch::empty_like(dhT);
  torch::Tensor through = masked ? torch::empty_like(dhT) : torch::Tensor();
  torch::Tensor dp = torch::empty_like(dgx[0]);  // this step's d(gh) (B, 3H)
  const int64_t H = dhT.size(1);
  for (int64_t t = T - 1; t >= 0; --t) {
    if (has_dy) dh.add_(dy[t]);
    auto dgxt = dgx[t], dght = dgh[t];
    gru_backward(dh, rz[t], n[t], ghn[t], hs[t], dgxt, dp, dh_prev);
    if (ln) {
      block_ln_backward(dp, ghr[t], mean[t], rstd[t], gain, 3, dght, dgain, dbias);
    } else {
      dght.copy_(dp.narrow(1, 2 * H, H));
      dght = dp;
    }
    if (masked) {
      at::mm_out(through, dght, W);
      at::addcmul_out(dh, dh_prev, through, mask);
    } else {
      at::addmm_out(dh, dh_prev, dght, W);
    }
  }
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

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
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
