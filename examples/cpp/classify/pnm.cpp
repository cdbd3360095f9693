#include "pnm.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace {

struct Reader {
  std::string path, data;
  size_t pos = 0;

  [[noreturn]] void bad(const std::string& what) const { throw std::runtime_error(path + ": " + what); }

  void skip_space_and_comments() {
    while (pos < data.size()) {
      if (data[pos] == '#') {
        while (pos < data.size() && data[pos] != '\n') ++pos;
      } else if (std::isspace(static_cast<unsigned char>(data[pos]))) {
        ++pos;
      } else {
        break;
      }
    }
  }

  long number(const char* what) {
    skip_space_and_comments();
    if (pos >= data.size() || !std::isdigit(static_cast<unsigned char>(data[pos])))
      bad(std::string("expected the ") + what + " (a decimal number) at byte " + std::to_string(pos));
    long v = 0;
    while (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos]))) {
      v = v * 10 + (data[pos++] - '0');
      if (v > 1000000) bad(std::string("the ") + what + " is too large");
    }
    return v;
  }
};

}  // namespace

Image read_pnm(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open the file");
  Reader r{path, std::string(std::istreambuf_iterator<char>(f), {})};
  if (r.data.size() < 2 || r.data[0] != 'P' || r.data.find_first_of("2356", 1) != 1)
    r.bad("not a PGM/PPM image (expected the magic P2, P3, P5 or P6)");
  const char kind = r.data[1];
  r.pos = 2;
  Image img;
  img.channels = (kind == '3' || kind == '6') ? 3 : 1;
  img.width = int(r.number("width"));
  img.height = int(r.number("height"));
  const long maxval = r.number("maxval");
  if (img.width < 1 || img.height < 1) r.bad("width and height must be positive");
  if (maxval < 1 || maxval > 65535) r.bad("maxval must be in 1..65535, got " + std::to_string(maxval));
  const size_t n = size_t(img.width) * size_t(img.height) * size_t(img.channels);
  std::vector<long> samples(n);  // interleaved: for each pixel, its channels
  if (kind == '2' || kind == '3') {
    for (size_t i = 0; i < n; ++i) samples[i] = r.number("sample");
  } else {
    ++r.pos;  // the single whitespace after maxval
    const size_t bytes = maxval < 256 ? 1 : 2;
    if (r.data.size() < r.pos + n * bytes)
      r.bad("truncated: " + std::to_string(n * bytes) + " bytes of samples expected, " +
            std::to_string(r.data.size() - std::min(r.pos, r.data.size())) + " present");
    for (size_t i = 0; i < n; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(r.data.data() + r.pos + i * bytes);
      samples[i] = bytes == 1 ? p[0] : (p[0] << 8 | p[1]);
    }
  }
  img.pixels.resize(n);
  const size_t plane = size_t(img.width) * size_t(img.height);
  for (size_t i = 0; i < n; ++i) {
    if (samples[i] > maxval) r.bad("sample " + std::to_string(samples[i]) + " exceeds maxval " + std::to_string(maxval));
    img.pixels[(i % size_t(img.channels)) * plane + i / size_t(img.channels)] = float(samples[i]) / float(maxval);
  }
  return img;
}
