#include <trainer/classifier.h>
#include <trainer/features.h>
#include <trainer/finetune.h>
#include <trainer/test_views.h>
#include <trainer/torch_error.h>
#include <trainer/training_loop.h>

#include <mme/atomic_file.h>
#include <mme/error.h>
#include <mme/hdf5_lock.h>
#include <mme/log.h>
#include <mme/progress.h>

#include <fmt/format.h>
#include <hdf5.h>

namespace trainer {

namespace fs = std::filesystem;

namespace {

// Writes the three datasets and the attributes with HDF5's C API; every id is closed on return.
class FeatureFile {
 public:
  explicit FeatureFile(const fs::path& path) : path_(path) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    check(file_, "create");
  }
  ~FeatureFile() {
    if (file_ >= 0) H5Fclose(file_);
  }
  FeatureFile(const FeatureFile&) = delete;
  FeatureFile& operator=(const FeatureFile&) = delete;

  void write(const char* name, hid_t type, std::vector<hsize_t> dims, const void* data) {
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t set = H5Dcreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = set < 0 ? -1 : H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (set >= 0) H5Dclose(set);
    H5Sclose(space);
    check(rc, fmt::format("write /{}", name));
  }
  void attribute(const char* name, const std::string& value) {
    const hid_t type = string_type();
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = value.c_str();
    const herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, &text);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    check(rc, fmt::format("write the attribute {}", name));
  }
  void attribute(const char* name, std::int64_t value) {
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(file_, name, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_INT64, &value);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    check(rc, fmt::format("write the attribute {}", name));
  }
  void close() {
    const herr_t rc = H5Fclose(file_);
    file_ = -1;
    check(rc, "close");
  }
  static hid_t string_type() {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    return type;
  }

 private:
  void check(std::int64_t rc, const std::string& what) const {
    if (rc < 0) throw mme::FileError(path_, fmt::format("cannot {}: {}", what, mme::hdf5_reason()));
  }
  fs::path path_;
  hid_t file_ = -1;
};

}  // namespace

long write_features(const TrainConfig& config, const fs::path& out) {
  if (config.finetune.init.empty()) throw std::invalid_argument("finetune.init (the weights to embed with) is not set");
  if (config.world_size > 1) throw std::invalid_argument("trainer features runs as one process");
  const auto device = pick_device(config.run.device);
  const auto init = read_init(config.model, config.finetune.init);
  const bool classifier = !init.pooling.empty();
  const bool mofo = init.pooling == "mofo";
  const ClipNeeds needs{.motion_box = mofo};
  ClipDataset dataset(config, needs);

  // A classifier as it was trained, or the pretraining encoder with its final norm.
  VideoClassifier model(config.model, classifier ? static_cast<int>(init.tensors.at("head.weight").size(0)) : 1,
                        classifier ? init.pooling : "first");
  LoadReport report;
  if (classifier) {
    report = set_weights(*model, init.tensors, config.finetune.init, [](const std::string&) { return true; });
  } else {
    std::map<std::string, torch::Tensor> encoder;
    const std::string prefix = "encoder.";  // the Encoder module's own names lack it
    for (const auto& [name, t] : init.tensors)
      encoder[name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name] = t;
    report = set_weights(*model->encoder, encoder, config.finetune.init, [](const std::string&) { return true; });
  }
  report.ignored.insert(report.ignored.begin(), init.ignored.begin(), init.ignored.end());
  mme::log::info("{}: {}", config.finetune.init.string(), report.summary());
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;

  const int T = config.finetune.test_clips, C = config.finetune.test_crops;
  const int slices = config.tokens_t(), side = config.tokens_side();
  const auto& videos = dataset.videos();
  std::vector<float> features;
  std::vector<std::int64_t> labels;
  std::vector<std::string> ids;
  mme::Progress progress("features", static_cast<long>(videos.size()), "videos");
  for (const auto& video : videos) {
    const auto views = test_views(dataset, video, config, T, C, needs);
    const auto input = imagenet_normalise(frames_to_video(views.frames.to(device)));
    torch::Tensor embedding;
    if (classifier)
      embedding = model->features(input, tokens_inside(views.boxes.to(device), slices, side, side));
    else
      embedding = model->encoder->forward(input, {}).mean(1);
    embedding = embedding.to(torch::kFloat32).mean(0).cpu().contiguous();
    features.insert(features.end(), embedding.data_ptr<float>(), embedding.data_ptr<float>() + embedding.numel());
    labels.push_back(video.label);
    ids.push_back(video.id);
    progress.advance();
  }
  const auto dim = static_cast<hsize_t>(config.model.dim);
  mme::remove_stale_temporaries(out);
  const auto temp = mme::temporary_name(out);
  try {
    mme::Hdf5Lock lock;
    FeatureFile file(temp);
    const auto n = static_cast<hsize_t>(ids.size());
    file.write("features", H5T_NATIVE_FLOAT, {n, dim}, features.data());
    file.write("labels", H5T_NATIVE_INT64, {n}, labels.data());
    std::vector<const char*> texts;
    for (const auto& id : ids) texts.push_back(id.c_str());
    const hid_t type = FeatureFile::string_type();
    file.write("ids", type, {n}, texts.data());
    H5Tclose(type);
    file.attribute("init", config.finetune.init.string());
    file.attribute("kind", classifier ? "classifier" : "pretraining");
    file.attribute("views_per_video", static_cast<std::int64_t>(T * C));
    file.close();
    mme::publish_file(temp, out);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  return static_cast<long>(ids.size());
}

}  // namespace trainer
