#pragma once
// The LOCO-I flow filter (loco_transform.h) as an HDF5 filter and as a chunk codec.
//
// Filter id 313 lies in HDF5's range for unregistered filters (256-511). Our tools register the
// filter in-process; other readers (h5py, h5dump) load it from the plugin library built next to
// them: `export HDF5_PLUGIN_PATH=<build>/common/plugin` (docs/formats.md).
#include <mme/chunk_codec.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace mme {

inline constexpr H5Z_filter_t kLocoFilterId = 313;

// Registers the filter with the HDF5 library of this process and teaches codec_for_dataset its id.
// Idempotent and thread-safe; called by loco_codec() and by ShardReader.
void register_loco_filter();

// The entropy coder after the LOCO-I prediction: the adaptive range coder (loco_transform.h;
// smallest, for flow) or Rice codes (loco_rice.h; ~3x faster on noisy data, ~1.4x larger; for
// trajectories). Stored in the filter's cd_values, so readers need not be told.
enum class LocoCoder : unsigned { range = 0, rice = 1 };

// A codec for int16 datasets whose last dimension holds the channels (flow: [.., H, W, 2]):
// `chunk` is the dataset's chunk shape. The values are predicted as an image of `cols` = the
// product of the `row_dims` dimensions before the channels (1: W) and rows = all the others.
// Trajectories [1, H/C, W/C, L, 2] use row_dims = 2, so a row is every step of a row of seeds.
std::shared_ptr<const ChunkCodec> loco_codec(const std::vector<std::uint64_t>& chunk, int row_dims = 1,
                                             LocoCoder coder = LocoCoder::range);

}  // namespace mme
