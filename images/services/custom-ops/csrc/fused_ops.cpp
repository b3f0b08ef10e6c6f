// Python binding of the fused bias + GELU op: one kernel instead of an add and a GELU.
#include <torch/extension.h>

torch::Tensor fused_bias_gelu_cuda(torch::Tensor input, torch::Tensor bias);

torch::Tensor fused_bias_gelu(torch::Tensor input, torch::Tensor bias) {
    TORCH_CHECK(input.is_cuda() && bias.is_cuda(), "fused_bias_gelu: tensors must be on a CUDA device");
    TORCH_CHECK(input.scalar_type() == torch::kFloat32 && bias.scalar_type() == torch::kFloat32, "fused_bias_gelu: float32 only");
    TORCH_CHECK(input.size(-1) == bias.size(0), "fused_bias_gelu: bias must match the last dimension");
    return fused_bias_gelu_cuda(input.contiguous(), bias.contiguous());
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("fused_bias_gelu", &fused_bias_gelu, "gelu(input + bias), fused (CUDA)");
}
