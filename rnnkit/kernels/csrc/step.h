// Inference of the built-in cells: one time step of a stack (streaming), or a whole sequence
// through one layer with no gradient to keep (rnnkit/kernels/plans.py).
//
// A StepPlan is made once per layer stack (and remade when its parameters change): each
// layer's weights packed for gemm.h, its biases summed where the formulas allow. step() runs
// every layer for one input x_t (B, I) from the states (L, B, P) / (L, B, H) into new state
// tensors the caller allocates, with no tensor created and no matrix re-packed: at batch 1 a
// step is a few matrix-vector products over packed weights plus the cells' element-wise work
// (the same *_impl functions the whole-sequence loops run). run() takes a whole sequence
// through a one-layer plan the same way, step after step: each step projects its own input,
// so no (T, B, 4H) buffer of projected inputs is written and read back.
//
// Included by cells.cpp after the *_impl functions. Kinds: 0 Elman tanh, 1 Elman relu,
// 2 LSTM (optionally with a projection W_hr), 3 GRU, 4 layer-norm LSTM, 5 layer-norm GRU.
// zoneout p (evaluation): every new state tensor is lerp(new, old, p), and the next layer
// reads the zoned-out h, as the loop does.

#pragma once

#include <vector>

struct StepLayer {
  int64_t kind, I, H, P, blocks;
  double eps, zoneout;
  rnnkit_gemm::Packed Wih, Whh, Whr;  // Elman, LSTM: Wih = [W_ih | W_hh], one product
  torch::Tensor b_x, b_h, g_ih, g_hh, wc, bc;  // b_x: bias of the input term (LSTM/Elman: both)
};

class StepPlan {
 public:
  // Add a layer (in order). Missing tensors are empty. The biases are combined here: the plain
  // LSTM and Elman cells add b_ih + b_hh once; the GRU keeps b_hh apart (r gates it).
  void add_layer(int64_t kind, const torch::Tensor& w_ih, const torch::Tensor& w_hh,
                 const torch::Tensor& b_ih, const torch::Tensor& b_hh, const torch::Tensor& w_hr,
                 const torch::Tensor& g_ih, const torch::Tensor& g_hh, const torch::Tensor& wc,
                 const torch::Tensor& bc, double eps, double zoneout) {
    TORCH_CHECK(kind >= 0 && kind <= 5, "StepPlan: unknown cell kind ", kind);
    StepLayer l;
    l.kind = kind;
    l.blocks = (kind == 2 || kind == 4) ? 4 : (kind == 3 || kind == 5) ? 3 : 1;
    l.H = w_ih.size(0) / l.blocks;
    l.I = w_ih.size(1);
    l.P = w_hr.numel() > 0 ? w_hr.size(0) : l.H;
    l.eps = eps;
    l.zoneout = zoneout;
    if (kind <= 2) {  // one product over [x_t | h_{t-1}]
      l.Wih = rnnkit_gemm::pack(torch::cat({w_ih.detach(), w_hh.detach()}, 1), false);
    } else {
      l.Wih = rnnkit_gemm::pack(w_ih.detach().contiguous(), false);
      l.Whh = rnnkit_gemm::pack(w_hh.detach().contiguous(), false);
    }
    if (w_hr.numel() > 0) l.Whr = rnnkit_gemm::pack(w_hr.detach().contiguous(), false);
    const bool sum_biases = kind <= 2;  // Elman, LSTM: one bias b_ih + b_hh
    auto own = [](const torch::Tensor& t) { return t.numel() ? t.detach().contiguous().clone()
                                                             : torch::Tensor(); };
    if (sum_biases && b_ih.numel() && b_hh.numel()) {
      l.b_x = (b_ih.detach() + b_hh.detach()).contiguous();
    } else {
      l.b_x = own(b_ih);
      l.b_h = own(b_hh);
    }
    l.g_ih = own(g_ih);
    l.g_hh = own(g_hh);
    l.wc = own(wc);
    l.bc = own(bc);
    if (!layers_.empty())
      TORCH_CHECK(l.I == layers_.back().P, "StepPlan: layer input ", l.I, " != previous output ",
                  layers_.back().P);
    layers_.push_back(std::move(l));
  }

  // x (B, I); h (L, B, P), c (L, B, H) (empty for GRU/Elman); writes h_out, c_out.
  void step(const torch::Tensor& x, const torch::Tensor& h, const torch::Tensor& c,
            torch::Tensor& h_out, torch::Tensor& c_out) {
    TORCH_CHECK(!layers_.empty(), "StepPlan: no layers");
    check_all("StepPlan.step", x, h, c, h_out, c_out);
    const int64_t B = x.size(0), L = static_cast<int64_t>(layers_.size());
    TORCH_CHECK(x.dim() == 2 && x.size(1) == layers_[0].I, "StepPlan: x must be (B, ",
                layers_[0].I, ")");
    TORCH_CHECK(h.dim() == 3 && h.size(0) == L && h.size(1) == B, "StepPlan: bad h shape");
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "StepPlan.step", [&] {
      using S = scalar_t;
      TORCH_CHECK(layers_[0].Wih.data.scalar_type() == x.scalar_type(),
                  "StepPlan: x dtype differs from the plan's");
      const S* in = x.data_ptr<S>();
      int64_t h_off = 0, c_off = 0;
      for (const StepLayer& l : layers_) {
        S* scratch = work<S>(B, l);
        const S* hp = ptr<S>(h) + h_off;
        S* hn = ptr<S>(h_out) + h_off;
        const bool has_c = l.kind == 2 || l.kind == 4;
        const S* cp = has_c ? ptr<S>(c) + c_off : nullptr;
        S* cn = has_c ? ptr<S>(c_out) + c_off : nullptr;
        run_layer<S>(l, B, in, hp, hn, cp, cn, scratch);
        if (l.zoneout > 0) {
          zone<S>(B * l.P, hp, hn, l.zoneout);
          if (has_c) zone<S>(B * l.H, cp, cn, l.zoneout);
        }
        in = hn;
        h_off += B * l.P;
        if (has_c) c_off += B * l.H;
      }
    });
  }

  // A whole sequence through a one-layer plan: x (T, B, I), h0 (B, P), c0 (B, H) or empty,
  // lengths (B,) int64 or empty (steps at t >= length keep the state and output zero).
  // Returns (y (T, B, P), h_T, c_T (or empty)).
  std::vector<torch::Tensor> run(const torch::Tensor& x, const torch::Tensor& h0,
                                 const torch::Tensor& c0, const torch::Tensor& lengths) {
    TORCH_CHECK(layers_.size() == 1, "StepPlan.run: needs a one-layer plan");
    check_all("StepPlan.run", x, h0, c0, lengths);
    const StepLayer& l = layers_[0];
    const int64_t T = x.size(0), B = x.size(1);
    TORCH_CHECK(x.dim() == 3 && x.size(2) == l.I, "StepPlan.run: x must be (T, B, ", l.I, ")");
    const bool has_c = l.kind == 2 || l.kind == 4;
    auto y = torch::empty({T, B, l.P}, x.options());
    auto h = torch::empty({2, B, l.P}, x.options());  // ping-pong: step t reads t % 2
    auto c = has_c ? torch::empty({2, B, l.H}, x.options()) : torch::Tensor();
    h[0].copy_(h0);
    if (has_c) c[0].copy_(c0);
    const int64_t* len = lengths.numel() ? lengths.data_ptr<int64_t>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "StepPlan.run", [&] {
      using S = scalar_t;
      TORCH_CHECK(l.Wih.data.scalar_type() == x.scalar_type(), "StepPlan: dtype differs");
      S* scratch = work<S>(B, l);
      const int64_t BP = B * l.P, BH = B * l.H;
      for (int64_t t = 0; t < T; ++t) {
        S *hp = ptr<S>(h) + (t % 2) * BP, *hn = ptr<S>(h) + ((t + 1) % 2) * BP;
        S *cp = has_c ? ptr<S>(c) + (t % 2) * BH : nullptr;
        S *cn = has_c ? ptr<S>(c) + ((t + 1) % 2) * BH : nullptr;
        run_layer<S>(l, B, ptr<S>(x) + t * B * l.I, hp, hn, cp, cn, scratch);
        if (l.zoneout > 0) {
          zone<S>(BP, hp, hn, l.zoneout);
          if (has_c) zone<S>(BH, cp, cn, l.zoneout);
        }
        S* yt = ptr<S>(y) + t * BP;
        std::copy(hn, hn + BP, yt);
        if (len) {
          for (int64_t b = 0; b < B; ++b) {
            if (t < len[b]) continue;  // past its end: keep the state, output zero
            std::copy(hp + b * l.P, hp + (b + 1) * l.P, hn + b * l.P);
            if (has_c) std::copy(cp + b * l.H, cp + (b + 1) * l.H, cn + b * l.H);
            std::fill(yt + b * l.P, yt + (b + 1) * l.P, S(0));
          }
        }
      }
    });
    const int64_t last = T % 2;
    return {y, h[last].clone(), has_c ? c[last].clone() : torch::Tensor()};
  }

  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }

 private:
  std::vector<StepLayer> layers_;
  torch::Tensor scratch_;  // reused across steps: gates, raw products, statistics

  template <typename S> S* work(int64_t B, const StepLayer& l) {
    const int64_t G = l.blocks * l.H;
    const int64_t need = B * (3 * G + 4 * l.H + l.I + l.P + 16);
    if (!scratch_.defined() || scratch_.numel() < need ||
        scratch_.scalar_type() != l.Wih.data.scalar_type())
      scratch_ = torch::empty({need}, l.Wih.data.options());
    return scratch_.data_ptr<S>();
  }

  template <typename S> static void zone(int64_t n, const S* old, S* now, double p) {
    const S q = static_cast<S>(p);
    _Pragma("omp simd")
    for (int64_t j = 0; j < n; ++j) now[j] = now[j] + q * (old[j] - now[j]);
  }

  template <typename S>
  static void concat(int64_t B, const S* x, int64_t I, const S* h, int64_t P, S* out) {
    for (int64_t r = 0; r < B; ++r) {
      std::copy(x + r * I, x + (r + 1) * I, out + r * (I + P));
      std::copy(h + r * P, h + (r + 1) * P, out + r * (I + P) + I);
    }
  }

  template <typename S> static const S* opt(const torch::Tensor& t) {
    return t.defined() && t.numel() ? t.data_ptr<S>() : nullptr;
  }

  template <typename S>
  static void run_layer(const StepLayer& l, int64_t B, const S* x, const S* hp, S* hn,
                        const S* cp, S* cn, S* s) {
    using rnnkit_gemm::gemm;
    const int64_t H = l.H, G = l.blocks * H;
    // scratch: a, b, r (B, G) each, u (B, 4H + 16), then [x_t | h_{t-1}] (B, I + P)
    S *a = s, *b = s + B * G, *r = s + 2 * B * G, *u = r + B * G, *xh = u + B * (4 * H + 16);
    const S *bx = opt<S>(l.b_x), *bh = opt<S>(l.b_h);
    switch (l.kind) {
      case 0:
      case 1: {  // pre = b + [x | h] [W_ih | W_hh]^T; h = f(pre)
        concat<S>(B, x, l.I, hp, l.P, xh);
        gemm<S>(B, xh, l.I + l.P, l.Wih, a, G, bx, 0);
        if (l.kind == 1) {
          _Pragma("omp simd")
          for (int64_t j = 0; j < B * H; ++j) hn[j] = a[j] > S(0) ? a[j] : S(0);
        } else {
          _Pragma("omp simd")
          for (int64_t j = 0; j < B * H; ++j) hn[j] = tanh_(a[j]);
        }
        return;
      }
      case 2: {  // gates = b + [x | h] [W_ih | W_hh]^T; cell; h = W_hr (o tanh c) if projecting
        concat<S>(B, x, l.I, hp, l.P, xh);
        gemm<S>(B, xh, l.I + l.P, l.Wih, a, G, bx, 0);
        S* full = l.Whr.defined() ? u : hn;  // o tanh(c) (B, H)
        lstm_forward_impl<S>(B, H, 0.0, a, nullptr, cp, nullptr, nullptr, cn, b, full, nullptr,
                             nullptr);
        if (l.Whr.defined()) gemm<S>(B, full, H, l.Whr, hn, l.P);
        return;
      }
      case 3: {  // gx = b_ih + x W_ih^T, gh = b_hh + h W_hh^T
        gemm<S>(B, x, l.I, l.Wih, a, G, bx, 0);
        gemm<S>(B, hp, H, l.Whh, b, G, bh, 0);
        gru_forward_impl<S>(B, H, a, b, hp, r, u, u + B * H, hn);
        return;
      }
      case 4:
      case 5: {  // LN_ih(x W_ih^T) g_ih + b_ih, LN_hh(h W_hh^T) g_hh + b_hh
        const int64_t K = l.blocks;
        S *mu = u + 2 * B * H, *rs = mu + B * K;
        gemm<S>(B, x, l.I, l.Wih, r, G);
        block_ln_forward_impl<S>(B, K, H, l.eps, r, opt<S>(l.g_ih), nullptr, bx, a, mu, rs);
        gemm<S>(B, hp, H, l.Whh, r, G);
        if (l.kind == 4) {  // gates = the sum of both; c, h with LN_c
          block_ln_forward_impl<S>(B, K, H, l.eps, r, opt<S>(l.g_hh), a, bh, a, mu, rs);
          lstm_forward_impl<S>(B, H, l.eps, a, nullptr, cp, opt<S>(l.wc), opt<S>(l.bc), cn, b,
                               hn, mu, rs);
        } else {
          block_ln_forward_impl<S>(B, K, H, l.eps, r, opt<S>(l.g_hh), nullptr, bh, b, mu, rs);
          gru_forward_impl<S>(B, H, a, b, hp, r, u, u + B * H, hn);
        }
        return;
      }
    }
  }
};
