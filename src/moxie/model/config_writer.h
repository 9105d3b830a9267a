#pragma once
// Writes a ModelConfig as GGUF metadata with the keys llama.cpp's converter uses; the
// inverse of read_model_config (used by `moxie synth`, later by convert).
namespace moxie {

class GgufWriter;
struct ModelConfig;

void write_model_config(GgufWriter& w, const ModelConfig& c);

}  // namespace moxie
