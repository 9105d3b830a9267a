#pragma once
// Weights stay in the GGUF file's read-only mapping and are used in place, except the
// matrices the model repacked at load (model/repacked_weights.h; only when they fit in RAM):
// resident memory grows as pages are first touched (weights + KV cache), and a model larger
// than RAM still runs from the page cache, only slower. These helpers let a front end
// pre-fault the weights (with progress), pin them, or warn about size.
#include <cstdint>
#include <functional>
#include <string>

#include "moxie/core/system_memory.h"  // physical_memory_bytes

namespace moxie {

class GgufFile;
class Model;


// Reads one byte of every page of the model's weights (Model::weight_memory), so later
// passes find them in memory. progress(done_bytes, total_bytes) is called now and then.
void touch_weights(const Model& model, const std::function<void(uint64_t, uint64_t)>& progress = {});

// mlock()s the model's weights so the kernel cannot page them out. Throws moxie::Error with
// the reason (usually RLIMIT_MEMLOCK: raise it with `ulimit -l`) when the kernel refuses.
void lock_weights(const Model& model);

// A line warning that the file is larger than physical memory, or empty when it fits.
std::string memory_warning(const GgufFile& file);

}  // namespace moxie
