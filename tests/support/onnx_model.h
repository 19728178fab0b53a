#pragma once
// Small ONNX models written byte by byte, for testing the neural detectors' decoding on outputs
// whose values the test chooses. Each model takes one float input and returns fixed tensors that
// do not depend on the input's values:
//
//   input -> GlobalAveragePool -> Conv 1x1 (all weights 0, bias = the values) -> Reshape -> output
//
// 0 x (mean of the input) is exactly 0 for any finite input, so every output equals its values
// bit for bit. The Conv's weights have as many input channels as dimension 1 of the declared input
// shape, so the model runs only on inputs with that dimension (useful to tell sizes apart).
//
// The protobuf encoding is written here by hand (ModelProto, GraphProto, NodeProto, TensorProto,
// ValueInfoProto, opset 11): no ONNX or protobuf library is needed to build or run the tests.
// Failure: write_onnx_model throws std::runtime_error if the file cannot be written.

#include <cstdint>
#include <string>
#include <vector>

namespace lookout::testing {

struct ConstantOutput {
  std::string name;
  std::vector<std::int64_t> shape;  // e.g. {1, 8, 7}
  std::vector<float> values;        // row-major, as many as the shape holds
};

// Writes to `path` a model with input "input" of `input_shape` (e.g. {1, 3, 320, 320}) and the
// given outputs, in that order.
void write_onnx_model(const std::string& path, const std::vector<std::int64_t>& input_shape,
                      const std::vector<ConstantOutput>& outputs);

}  // namespace lookout::testing
