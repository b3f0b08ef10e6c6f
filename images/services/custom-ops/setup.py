"""The fused bias + GELU op, built against the torch in the devel base."""
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

setup(
    name="warmstart-fused-ops",
    version="0.1.0",
    ext_modules=[
        CUDAExtension(
            name="fused_ops",
            sources=["csrc/fused_ops.cpp", "csrc/fused_bias_gelu.cu"],
            extra_compile_args={"cxx": ["-O3"], "nvcc": ["-O3", "--use_fast_math"]},
        )
    ],
    cmdclass={"build_ext": BuildExtension},
)
