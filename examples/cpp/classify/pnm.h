// A tiny reader for Netpbm images: PGM (P2 text, P5 binary; 1 channel) and PPM (P3 text, P6 binary; 3 channels),
// maxval up to 65535 (binary samples of two bytes are big-endian, as the format says). No image library needed.
#pragma once
#include <string>
#include <vector>

struct Image {
  int channels = 0, height = 0, width = 0;
  std::vector<float> pixels;  // channels x height x width (planar, as a CNN takes it), each sample / maxval
};

// Throws std::runtime_error naming the file and what is wrong with it.
Image read_pnm(const std::string& path);
