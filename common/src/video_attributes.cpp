#include <mme/video_attributes.h>

namespace mme {

void write_video_attributes(GroupWriter& group, const ListEntry& entry, const VideoInfo& info,
                            const SourceStat& source) {
  ShardWriter::set_source(group, source);
  if (entry.label) group.set(schema::video::label, *entry.label);
  group.set(schema::video::fps, info.fps);
  group.set(schema::video::native_width, info.native_width);
  group.set(schema::video::native_height, info.native_height);
  group.set(schema::video::rotation, info.rotation);
  group.set(schema::video::codec, info.codec);
}

}  // namespace mme
