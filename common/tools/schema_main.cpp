// mme-schema: the field reference of the shards (mme/shard_schema.h) as a markdown table.
//   mme-schema                  prints it
//   mme-schema --update FILE    rewrites the generated block of FILE (docs/formats.md)
#include <mme/atomic_file.h>
#include <mme/shard_schema.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  const std::string usage = "usage: mme-schema [--update docs/formats.md]\n";
  if (argc == 1) {
    std::cout << mme::schema::markdown_reference();
    return 0;
  }
  if (argc != 3 || std::string(argv[1]) != "--update") {
    std::cerr << usage;
    return 2;
  }
  const std::string file = argv[2];
  std::ifstream in(file);
  if (!in) {
    std::cerr << "mme-schema: " << file << ": cannot read\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    mme::write_atomically(file, mme::schema::with_current_reference(text.str()));
  } catch (const std::exception& e) {
    std::cerr << "mme-schema: " << file << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
