#include "backend/kernel.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <set>

#include "fastconv/error.h"

namespace fastconv {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Whether an override's algorithm name means kernel e: its own name, or for a backend's kernels named
// "<algo>__<backend>" the plain algorithm ("conv=im2col_gemm" forces im2col_gemm__cuda on "cuda").
bool answers_to(const KernelDef& e, const std::string& algo) {
  return e.algo == algo || e.algo == algo + "__" + e.backend;
}

// The per-family variables that FASTCONV_ALGO replaced: a user who still sets one gets told, not ignored.
constexpr const char* kRetired[] = {"FASTCONV_CONV_ALGO", "FASTCONV_NORM_ALGO",     "FASTCONV_POOL_ALGO",
                                    "FASTCONV_DROPOUT_ALGO", "FASTCONV_UPSAMPLE_ALGO", "FASTCONV_LINEAR_ALGO",
                                    "FC_WINO_TILES"};

}  // namespace

// ---- KernelOptions -------------------------------------------------------------------------------------------

KernelOptions KernelOptions::parse(const std::string& spec, const std::string& source) {
  KernelOptions o;
  o.source = source;
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string item = trim(spec.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    FC_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < item.size(), Value, source, ": '", item,
             "' is not key=value (expected e.g. 'conv=winograd_f4x3,norm=ref')");
    o.set(trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
  }
  return o;
}

KernelOptions KernelOptions::from_env() {
  for (const char* old : kRetired)
    if (const char* v = std::getenv(old); v && *v)
      fail(ErrorKind::Value, "the environment variable ", old, " (set to '", v,
           "') was replaced by FASTCONV_ALGO, one variable for every override: e.g. FASTCONV_ALGO='conv=ref' or "
           "'conv.winograd_fused_tiles=64' (see docs/design.md); unset ",
           old);
  const char* e = std::getenv("FASTCONV_ALGO");
  return parse(e ? e : "", "FASTCONV_ALGO");
}

void KernelOptions::set(const std::string& key, const std::string& value) {
  FC_CHECK(!key.empty() && !value.empty(), Value, source.empty() ? "algo" : source, ": empty key or value in '", key,
           "=", value, "'");
  m_[key] = value;
}

void KernelOptions::merge(const KernelOptions& o) {
  for (const auto& [k, v] : o.m_) m_[k] = v;
  if (!o.m_.empty()) source = source.empty() ? o.source : source + " and " + o.source;
}

const std::string* KernelOptions::algo_for(const std::string& op, const std::string& family) const {
  for (const std::string* k : {&op, &family}) {
    auto it = m_.find(*k);
    if (it != m_.end()) return &it->second;
  }
  auto it = m_.find("*");
  return it == m_.end() ? nullptr : &it->second;
}

int64_t KernelOptions::get_int(const std::string& key, int64_t dflt) const {
  auto it = m_.find(key);
  if (it == m_.end()) return dflt;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  FC_CHECK(end && *end == '\0', Value, source, ": '", key, "' must be an integer, got '", it->second, "'");
  return v;
}

std::string KernelOptions::str() const {
  std::string out;
  for (const auto& [k, v] : m_) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

// ---- KernelTable ---------------------------------------------------------------------------------------------

void KernelTable::add(KernelDef k) {
  FC_CHECK(!k.op.empty() && !k.backend.empty() && !k.algo.empty() && k.prepare, Runtime,
           "kernel registration needs op, backend, algo and prepare (op '", k.op, "', algo '", k.algo, "')");
  if (k.family.empty()) k.family = k.op;
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (const auto& e : kernels_)
    FC_CHECK(!(e->op == k.op && e->backend == k.backend && e->algo == k.algo && e->dtypes == k.dtypes), Runtime,
             "kernel '", k.algo, "' of op '", k.op, "' on backend '", k.backend, "' is registered twice");
  kernels_.push_back(std::make_unique<KernelDef>(std::move(k)));
}

int KernelTable::copy_backend(const std::string& from, const std::string& to, const std::vector<std::string>& algos) {
  std::vector<KernelDef> copies;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (!algos.empty()) {
      for (const auto& e : kernels_)
        if (e->backend == from && std::find(algos.begin(), algos.end(), e->algo) != algos.end()) copies.push_back(*e);
    } else {  // the reference set: each op's "ref" kernel, or its lowest-priority one where it has no "ref"
      std::map<std::string, const KernelDef*> pick;
      for (const auto& e : kernels_) {
        if (e->backend != from) continue;
        const KernelDef*& p = pick[e->op];
        if (!p || (p->algo != "ref" && (e->algo == "ref" || e->priority < p->priority))) p = e.get();
      }
      for (const auto& [key, e] : pick) copies.push_back(*e);
    }
  }
  int added = 0;
  for (KernelDef& k : copies) {
    k.backend = to;
    bool dup = false;  // deriving again (a second test) keeps what the first call copied
    for (const KernelDef* e : entries(k.op, to)) dup = dup || (e->algo == k.algo && e->dtypes == k.dtypes);
    if (dup) continue;
    add(std::move(k));
    ++added;
  }
  return added;
}

std::vector<const KernelDef*> KernelTable::entries(const std::string& op, const std::string& backend) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<const KernelDef*> out;
  for (const auto& e : kernels_)
    if (e->op == op && e->backend == backend) out.push_back(e.get());
  std::stable_sort(out.begin(), out.end(), [](const KernelDef* a, const KernelDef* b) {
    return a->priority > b->priority;
  });
  return out;
}

bool KernelTable::has(const std::string& op, const std::string& backend) const {
  return !entries(op, backend).empty();
}

const KernelDef& KernelTable::select(const KernelCall& c) const {
  std::vector<const KernelDef*> cands;
  for (const KernelDef* e : entries(c.op, c.backend))
    if (e->dtypes.empty() || (!c.in.empty() && std::find(e->dtypes.begin(), e->dtypes.end(), c.in[0].dtype) !=
                                                   e->dtypes.end()))
      cands.push_back(e);
  if (cands.empty()) {
    std::vector<std::string> where;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      std::set<std::string> seen;
      for (const auto& e : kernels_)
        if (e->op == c.op && seen.insert(e->backend).second) where.push_back(e->backend);
    }
    fail(ErrorKind::NotImplemented, c.op, ": backend '", c.backend, "' has no kernel for this op",
         c.in.empty() ? "" : std::string(" with ") + dtype_name(c.in[0].dtype) + " input",
         where.empty() ? std::string() : " (kernels exist on: " + join(where) + ")");
  }
  auto applies = [&](const KernelDef* e) { return !e->applies || e->applies(c); };
  if (const std::string* forced = c.options.algo_for(c.op, cands[0]->family))
    for (const KernelDef* e : cands)
      if (answers_to(*e, *forced) && applies(e)) return *e;
  const KernelDef* fallback = nullptr;
  for (const KernelDef* e : cands) {
    if (!applies(e)) continue;
    if (!e->preferred || e->preferred(c)) return *e;
    if (!fallback) fallback = e;
  }
  FC_CHECK(fallback != nullptr, NotImplemented, c.op, ": no kernel on backend '", c.backend,
           "' applies to this call (kernels: ", join(algos(c.op, c.backend)), ")");
  return *fallback;
}

Prepared KernelTable::prepare(const KernelCall& c) const {
  const KernelDef& k = select(c);
  Prepared p = k.prepare(c);
  if (p.algo.empty()) p.algo = k.algo;
  return p;
}

std::vector<std::string> KernelTable::algos(const std::string& family_or_op, const std::string& backend) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& e : kernels_)
    if ((e->op == family_or_op || e->family == family_or_op) && (backend.empty() || e->backend == backend) &&
        std::find(out.begin(), out.end(), e->algo) == out.end())
      out.push_back(e->algo);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> KernelTable::backends() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::set<std::string> s;
  for (const auto& e : kernels_) s.insert(e->backend);
  return {s.begin(), s.end()};
}

void KernelTable::validate(const KernelOptions& o) const {
  for (const auto& [key, value] : o.items()) {
    const size_t dot = key.find('.');
    const std::string target = dot == std::string::npos ? key : key.substr(0, dot);
    if (target == "*") {
      FC_CHECK(dot == std::string::npos, Value, o.source, ": '", key, "': tuning values need a family name");
      bool any = false;
      {
        std::shared_lock<std::shared_mutex> lock(mu_);
        for (const auto& e : kernels_) any = any || answers_to(*e, value);
      }
      FC_CHECK(any, Value, o.source, ": '*=", value, "': no kernel is called '", value, "'");
      continue;
    }
    const std::vector<std::string> known = algos(target, "");
    if (known.empty()) {
      std::set<std::string> fams;
      {
        std::shared_lock<std::shared_mutex> lock(mu_);
        for (const auto& e : kernels_)
          if (e->family != e->op) fams.insert(e->family);
      }
      fail(ErrorKind::Value, o.source, ": '", key, "=", value, "': '", target,
           "' is neither an op nor an op family (families: ", join({fams.begin(), fams.end()}),
           "; or any op name, or '*')");
    }
    bool found = false;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (const auto& e : kernels_)
        found = found || ((e->op == target || e->family == target) && answers_to(*e, value));
    }
    if (dot == std::string::npos && !found) {
      // The CPU's algorithms first, then each other backend's own.
      std::string others;
      for (const std::string& b : backends())
        if (b != "cpu" && !algos(target, b).empty()) others += "; backend '" + b + "' has " + join(algos(target, b));
      fail(ErrorKind::Value, o.source, ": '", key, "=", value, "': no ", target, " kernel is called '", value, "' (",
           target, " algorithms: ", join(algos(target, "cpu")), ")", others);
    }
  }
}

}  // namespace fastconv
