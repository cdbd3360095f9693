// safetensors files, read and written in C++ (Python's fastconv.io calls these; so does the C++ Model).
// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets},
// "__metadata__": {str: str}}, then the raw little-endian tensor bytes. Integrity: write() stores a CRC-32C of the
// data section in the metadata ("fastconv.checksum": "crc32c:<8 hex digits>"); read() verifies it when present
// (files written before it existed have none and still load). Every malformed file is a ValueError that starts
// "fastconv.load: <source>: " and says what is wrong (the Python loader's messages).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastconv/tensor.h"

namespace fastconv::io {

// One entry of the header as the file has it, whatever its dtype (Python reads all 9 codes; DType lacks I16, I8).
struct RawTensor {
  std::string name;
  std::string dtype;  // the code: F32 F64 F16 I64 I32 I16 I8 U8 BOOL
  Shape shape;
  size_t offset = 0;  // bytes from buffer->data() (the whole file's bytes)
  size_t nbytes = 0;
};

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order; contiguous CPU tensors owning their bytes
  std::map<std::string, std::string> metadata;
  // Extension: every tensor (also those without a DType: I16, I8, which `tensors` leaves out) over `buffer`, the
  // file read whole. `tensors` are views into `buffer` where the bytes are aligned for their dtype, else copies.
  std::vector<RawTensor> raw;
  std::shared_ptr<Storage> buffer;
};

// dtype codes: F32 F64 F16 I64 I32 I16 I8 U8 BOOL (what DType can hold; others are refused with the list).
SafetensorsFile read_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(const void* data, size_t nbytes, const std::string& source);
// Extension: parses a file already read whole into `buffer` (no copy: the tensors view it).
SafetensorsFile parse_safetensors(std::shared_ptr<Storage> buffer, const std::string& source);
// Extension: the whole file in one 64-byte-aligned CPU buffer; nullptr with errno set when it cannot be opened or
// read (the Python binding raises OSError from errno: FileNotFoundError...).
std::shared_ptr<Storage> read_file(const std::string& path);
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);  // reads only the header

// Writes to "<path>.tmp<pid>" and renames, so a failed or killed write never leaves a half file under `path`.
// Tensors may have any strides and live on any device (copied to contiguous host bytes). The checksum key is
// added (a caller-given "fastconv.checksum" is an error).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata);

// Extension: one tensor's bytes for the writer, any of the 9 dtype codes (what Python writes from NumPy). `data`
// holds `nbytes` contiguous little-endian bytes, nbytes == numel(shape) * the code's size.
struct RawView {
  std::string name;
  std::string dtype;
  Shape shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};
void write_safetensors_raw(const std::string& path, const std::vector<RawView>& tensors,
                           const std::map<std::string, std::string>& metadata);
size_t dtype_code_size(const std::string& code);  // 0 for an unknown code

uint32_t crc32c(const void* data, size_t nbytes, uint32_t crc = 0);  // hardware (SSE4.2) when the CPU has it

}  // namespace fastconv::io

namespace fastconv::io {
// Extension, for the tests: the table and the SSE4.2 paths separately (crc32c_hardware falls back to the table
// when the CPU lacks SSE4.2).
uint32_t crc32c_software(const void* data, size_t nbytes, uint32_t crc = 0);
uint32_t crc32c_hardware(const void* data, size_t nbytes, uint32_t crc = 0);
bool crc32c_hardware_available();
}  // namespace fastconv::io
