// safetensors files, read and written in C++ (Python's fastconv.io calls these; so does the C++ Model).
// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets},
// "__metadata__": {str: str}}, then the raw little-endian tensor bytes. Integrity: write() stores a CRC-32C of the
// data section in the metadata ("fastconv.checksum": "crc32c:<8 hex digits>"); read() verifies it when present
// (files written before it existed have none and still load). Every malformed file is a ValueError that starts
// "fastconv.load: <source>: " and says what is wrong (the Python loader's messages).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fastconv/tensor.h"

namespace fastconv::io {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order; contiguous CPU tensors owning their bytes
  std::map<std::string, std::string> metadata;
};

// dtype codes: F32 F64 F16 I64 I32 I16 I8 U8 BOOL (what DType can hold; others are refused with the list).
SafetensorsFile read_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(const void* data, size_t nbytes, const std::string& source);
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);  // reads only the header

// Writes to "<path>.tmp<pid>" and renames, so a failed or killed write never leaves a half file under `path`.
// Tensors may have any strides and live on any device (copied to contiguous host bytes). The checksum key is
// added (a caller-given "fastconv.checksum" is an error).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata);

uint32_t crc32c(const void* data, size_t nbytes, uint32_t crc = 0);  // hardware (SSE4.2) when the CPU has it

}  // namespace fastconv::io
