#include "support/onnx_model.h"

#include <cstring>
#include <fstream>
#include <functional>
#include <numeric>
#include <stdexcept>

namespace lookout::testing {
namespace {

// Protobuf wire format: each field is a key (field number << 3 | wire type) and a value; varints
// for integers, a length prefix for strings, bytes and nested messages.
class Message {
 public:
  Message& varint(int field, std::uint64_t value) {
    key(field, 0);
    put_varint(value);
    return *this;
  }
  Message& bytes(int field, const std::string& value) {
    key(field, 2);
    put_varint(value.size());
    data_ += value;
    return *this;
  }
  Message& message(int field, const Message& value) { return bytes(field, value.data_); }
  const std::string& data() const { return data_; }

 private:
  void key(int field, int wire_type) {
    put_varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
  }
  void put_varint(std::uint64_t value) {
    while (value >= 0x80) {
      data_ += static_cast<char>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    data_ += static_cast<char>(value);
  }
  std::string data_;
};

// Field numbers and enum values from onnx.proto.
constexpr int kFloat = 1;
constexpr int kInt64 = 7;
constexpr int kAttributeInts = 7;

template <typename T>
Message tensor(const std::string& name, const std::vector<std::int64_t>& dims, int data_type,
               const std::vector<T>& values) {
  Message message;
  for (const auto dim : dims) message.varint(1, static_cast<std::uint64_t>(dim));
  message.varint(2, static_cast<std::uint64_t>(data_type));
  message.bytes(8, name);
  // raw_data is little-endian, as the values are in memory on the machines the tests run on.
  std::string raw(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  message.bytes(9, raw);
  return message;
}

Message node(const std::string& op, const std::vector<std::string>& inputs,
             const std::string& output, const std::vector<Message>& attributes = {}) {
  Message message;
  for (const auto& input : inputs) message.bytes(1, input);
  message.bytes(2, output);
  message.bytes(3, output + "_node");
  message.bytes(4, op);
  for (const auto& attribute : attributes) message.message(5, attribute);
  return message;
}

Message ints_attribute(const std::string& name, const std::vector<std::int64_t>& values) {
  Message message;
  message.bytes(1, name);
  for (const auto value : values) message.varint(8, static_cast<std::uint64_t>(value));
  message.varint(20, kAttributeInts);
  return message;
}

Message value_info(const std::string& name, const std::vector<std::int64_t>& shape) {
  Message dims;
  for (const auto dim : shape)
    dims.message(1, Message().varint(1, static_cast<std::uint64_t>(dim)));
  Message tensor_type;
  tensor_type.varint(1, kFloat).message(2, dims);
  Message type;
  type.message(1, tensor_type);
  Message message;
  message.bytes(1, name).message(2, type);
  return message;
}

std::int64_t product(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

}  // namespace

void write_onnx_model(const std::string& path, const std::vector<std::int64_t>& input_shape,
                      const std::vector<ConstantOutput>& outputs) {
  if (input_shape.size() != 4) throw std::runtime_error("write_onnx_model: the input must be 4-D");
  const std::int64_t channels = input_shape[1];
  Message graph;
  std::vector<Message> initializers;

  // input (1 x C x H x W) -> pooled (1 x C x 1 x 1) -> zero (1 x 1 x 1 x 1, always 0).
  graph.message(1, node("GlobalAveragePool", {"input"}, "pooled"));
  initializers.push_back(tensor("zero_weights", {1, channels, 1, 1}, kFloat,
                                std::vector<float>(static_cast<std::size_t>(channels), 0.0F)));
  graph.message(1, node("Conv", {"pooled", "zero_weights"}, "zero",
                        {ints_attribute("kernel_shape", {1, 1})}));

  for (const auto& output : outputs) {
    const std::int64_t count = product(output.shape);
    if (static_cast<std::int64_t>(output.values.size()) != count) {
      throw std::runtime_error("write_onnx_model: output '" + output.name + "' has " +
                               std::to_string(output.values.size()) + " values for " +
                               std::to_string(count) + " places");
    }
    // zero (1 x 1 x 1 x 1) -> Conv with zero weights and bias = values -> 1 x count x 1 x 1.
    const std::string weights = output.name + "_weights";
    const std::string bias = output.name + "_bias";
    const std::string shape = output.name + "_shape";
    const std::string flat = output.name + "_flat";
    initializers.push_back(tensor(weights, {count, 1, 1, 1}, kFloat,
                                  std::vector<float>(static_cast<std::size_t>(count), 0.0F)));
    initializers.push_back(tensor(bias, {count}, kFloat, output.values));
    initializers.push_back(
        tensor(shape, {static_cast<std::int64_t>(output.shape.size())}, kInt64, output.shape));
    graph.message(
        1, node("Conv", {"zero", weights, bias}, flat, {ints_attribute("kernel_shape", {1, 1})}));
    graph.message(1, node("Reshape", {flat, shape}, output.name));
  }

  graph.bytes(2, "lookout_test_model");
  for (const auto& initializer : initializers) graph.message(5, initializer);
  graph.message(11, value_info("input", input_shape));
  for (const auto& output : outputs) graph.message(12, value_info(output.name, output.shape));

  Message opset;
  opset.bytes(1, "").varint(2, 11);
  Message model;
  model.varint(1, 7).bytes(2, "lookout-tests").message(7, graph).message(8, opset);

  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << model.data();
  if (!file.flush()) throw std::runtime_error("write_onnx_model: cannot write " + path);
}

}  // namespace lookout::testing
