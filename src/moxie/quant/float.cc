#include "moxie/quant/families.h"

namespace moxie::quant {

// Placeholder until the family's formats land.
void register_float_quants(QuantFns* table) { (void)table; }

}  // namespace moxie::quant
