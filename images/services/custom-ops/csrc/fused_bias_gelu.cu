// gelu(x + b) in one pass over memory, with the tanh approximation PyTorch calls "tanh".
#include <torch/extension.h>
#include <cuda_runtime.h>

__global__ void fused_bias_gelu_kernel(const float* __restrict__ in, const float* __restrict__ bias,
                                       float* __restrict__ out, int64_t n, int64_t cols) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    const float x = in[i] + bias[i % cols];
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    out[i] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

torch::Tensor fused_bias_gelu_cuda(torch::Tensor input, torch::Tensor bias) {
    auto out = torch::empty_like(input);
    const int64_t n = input.numel();
    const int threads = 256;
    const int64_t blocks = (n + threads - 1) / threads;
    fused_bias_gelu_kernel<<<blocks, threads>>>(input.data_ptr<float>(), bias.data_ptr<float>(),
                                                out.data_ptr<float>(), n, bias.size(0));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
