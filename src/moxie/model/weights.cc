#include "moxie/model/weights.h"

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/kernels/api.h"
#include "moxie/model/repacked_weights.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

std::string shape_text(const int64_t* ne, size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

}  // namespace

WeightLoader::WeightLoader(const GgufFile& file, const ModelConfig& config, const kernels::KernelTable& kt,
                           RepackedWeights* repack)
    : file_(file), config_(config), kt_(kt), repack_(repack) {
  for (TensorSpec& s : tensor_specs(config)) {
    std::string name = s.name;
    specs_.emplace(std::move(name), std::move(s));
  }
}

void WeightLoader::fail(const std::string& name, const std::string& why) const {
  throw Error(file_.path() + ": tensor \"" + name + "\" " + why);
}

const TensorView* WeightLoader::find(const std::string& name, bool required) {
  const auto spec = specs_.find(name);
  if (spec == specs_.end()) {
    fail(name, std::string("is not part of the ") + arch_name(config_.arch) + " tensor table for this config");
  }
  const GgufTensorInfo* info = file_.find_tensor(name);
  if (!info) {
    if (!required && !spec->second.required) return nullptr;
    fail(name, std::string("is missing (") + arch_name(config_.arch) + " needs it)");
  }
  const std::vector<int64_t>& want = spec->second.ne;
  bool same = info->n_dims == int(want.size());
  for (size_t d = 0; same && d < want.size(); ++d) same = info->ne[d] == want[d];
  if (!same) {
    fail(name, "has shape " + shape_text(info->ne, size_t(info->n_dims)) + ", the config implies " +
                   shape_text(want.data(), want.size()) + " (GGUF ne order)");
  }
  used_.insert(name);
  return &info->view;
}

TensorView WeightLoader::matrix(const std::string& name) {
  const TensorView& v = *find(name, true);
  const kernels::WeightOps& ops = kt_.weights[uint32_t(v.type)];
  if (!ops.gemm || !ops.to_act) {
    fail(name, "has type " + std::string(dtype_name(v.type)) + ", which moxie cannot multiply on " +
                   kernels::isa_name(kt_.isa));
  }
  if (!repack_ || !repack_->can_repack(v)) return v;
  if (const auto it = repacked_.find(name); it != repacked_.end()) return it->second;
  return repacked_.emplace(name, repack_->repack(v)).first->second;
}

TensorView WeightLoader::derived_matrix(const TensorView& w) {
  if (!repack_ || !repack_->can_repack(w)) return w;
  return repack_->repack_derived(w);
}

TensorView WeightLoader::optional_matrix(const std::string& name) {
  const TensorView* v = find(name, false);
  return v ? matrix(name) : TensorView{};
}

const float* WeightLoader::vector(const std::string& name) {
  const TensorView& v = *find(name, true);
  if (v.type != DType::F32) fail(name, "has type " + std::string(dtype_name(v.type)) + "; norms and biases must be F32");
  return static_cast<const float*>(v.data);
}

TensorView WeightLoader::table(const std::string& name) {
  const TensorView& v = *find(name, true);
  if (!quant::quant_fns(v.type).dequantize) {
    fail(name, "has type " + std::string(dtype_name(v.type)) + ", which moxie cannot dequantize");
  }
  return v;
}

void WeightLoader::check_all_used() const {
  for (const GgufTensorInfo& t : file_.tensors()) {
    const std::string name(t.name);
    if (used_.count(name)) continue;
    if (specs_.count(name)) {
      fail(name, "is in the tensor table but the forward pass does not use it (moxie bug)");
    }
    fail(name, std::string("is not used by moxie's ") + arch_name(config_.arch) +
                   " forward pass: the file carries a feature moxie does not support");
  }
}

}  // namespace moxie
