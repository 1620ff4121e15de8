#pragma once
// The attributes every tool records about a decoded video in its group: where it came from
// (source size and mtime, label from the list) and the stream facts (fps, native size, rotation,
// codec), so that flowgen's, mme-probe's and later tools' groups agree (docs/formats.md).
#include <mme/dataset_list.h>
#include <mme/provenance.h>
#include <mme/shard_store.h>
#include <mme/video_reader.h>

namespace mme {

void write_video_attributes(GroupWriter& group, const ListEntry& entry, const VideoInfo& info,
                            const SourceStat& source);

}  // namespace mme
