#include <trainer/torch_error.h>
#include <trainer/torch_file.h>

#include <mme/atomic_file.h>
#include <mme/checked_size.h>
#include <mme/error.h>

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace trainer {

namespace fs = std::filesystem;

namespace {

// What the restricted unpickler builds. Anything that is not data (a class, a function result
// other than a tensor or an OrderedDict) is an Object that only remembers its class's name.
struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Set, Tensor, Storage, Global, Object };
  Kind kind = Kind::None;
  std::int64_t integer = 0;
  double real = 0;
  std::string text;             // String and Bytes; the "module.name" of a Global or an Object's class
  std::vector<ValuePtr> items;  // Tuple, List, Set; a Dict's keys and values in turn
  torch::Tensor tensor;         // Tensor; Storage: its elements as a flat tensor
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::None:
      return "None";
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Int:
      return "int";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "str";
    case Value::Kind::Bytes:
      return "bytes";
    case Value::Kind::Tuple:
      return "tuple";
    case Value::Kind::List:
      return "list";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Set:
      return "set";
    case Value::Kind::Tensor:
      return "tensor";
    case Value::Kind::Storage:
      return "storage";
    case Value::Kind::Global:
      return v.text;
    case Value::Kind::Object:
      return v.text;
  }
  return "?";
}

// The element type of torch's (legacy, still pickled) typed storage classes.
std::optional<torch::ScalarType> storage_dtype(const std::string& name) {
  static const std::map<std::string, torch::ScalarType> types{{"torch.FloatStorage", torch::kFloat32},
                                                              {"torch.DoubleStorage", torch::kFloat64},
                                                              {"torch.HalfStorage", torch::kFloat16},
                                                              {"torch.BFloat16Storage", torch::kBFloat16},
                                                              {"torch.LongStorage", torch::kInt64},
                                                              {"torch.IntStorage", torch::kInt32},
                                                              {"torch.ShortStorage", torch::kInt16},
                                                              {"torch.CharStorage", torch::kInt8},
                                                              {"torch.ByteStorage", torch::kUInt8},
                                                              {"torch.BoolStorage", torch::kBool},
                                                              {"torch.UntypedStorage", torch::kUInt8},
                                                              {"torch.ComplexFloatStorage", torch::kComplexFloat},
                                                              {"torch.ComplexDoubleStorage", torch::kComplexDouble}};
  const auto it = types.find(name);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

class Unpickler {
 public:
  Unpickler(const char* data, std::size_t size, caffe2::serialize::PyTorchStreamReader& archive, std::string records)
      : data_(data), size_(size), archive_(archive), records_(std::move(records)) {}

  ValuePtr run() {
    while (true) {
      const auto op = static_cast<unsigned char>(byte());
      switch (op) {
        case 0x80:  // PROTO
          byte();
          break;
        case 0x95:  // FRAME (a length hint)
          bytes(8);
          break;
        case '.':
          return pop();  // STOP
        case '(':
          marks_.push_back(stack_.size());
          break;
        case '0':  // POP
          pop();
          break;
        case '1':  // POP_MARK
          pop_mark();
          break;
        case '2':  // DUP
          push(top());
          break;
        case 'N':
          push(make(Value::Kind::None));
          break;
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = make(Value::Kind::Bool);
          v->integer = op == 0x88;
          push(v);
          break;
        }
        case 'K':  // BININT1
          push_int(static_cast<unsigned char>(byte()));
          break;
        case 'M':  // BININT2
          push_int(little(2));
          break;
        case 'J':  // BININT
          push_int(static_cast<std::int32_t>(little(4)));
          break;
        case 0x8a:  // LONG1
          push_int(long_int(static_cast<unsigned char>(byte())));
          break;
        case 0x8b:  // LONG4
          push_int(long_int(checked_length(little(4))));
          break;
        case 'G': {  // BINFLOAT: big-endian double
          std::uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = bits << 8 | static_cast<unsigned char>(byte());
          auto v = make(Value::Kind::Float);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X':  // BINUNICODE
          push_text(Value::Kind::String, little(4));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          push_text(Value::Kind::String, static_cast<unsigned char>(byte()));
          break;
        case 0x8d:  // BINUNICODE8
          push_text(Value::Kind::String, little(8));
          break;
        case 'T':  // BINSTRING
          push_text(Value::Kind::Bytes, little(4));
          break;
        case 'U':  // SHORT_BINSTRING
          push_text(Value::Kind::Bytes, static_cast<unsigned char>(byte()));
          break;
        case 'B':  // BINBYTES
          push_text(Value::Kind::Bytes, little(4));
          break;
        case 'C':  // SHORT_BINBYTES
          push_text(Value::Kind::Bytes, static_cast<unsigned char>(byte()));
          break;
        case 0x8e:
        case 0x96:  // BINBYTES8, BYTEARRAY8
          push_text(Value::Kind::Bytes, little(8));
          break;
        case '}':
          push(make(Value::Kind::Dict));
          break;
        case ']':
          push(make(Value::Kind::List));
          break;
        case ')':
          push(make(Value::Kind::Tuple));
          break;
        case 0x8f:  // EMPTY_SET
          push(make(Value::Kind::Set));
          break;
        case 't': {
          auto v = make(Value::Kind::Tuple);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          auto v = make(Value::Kind::Tuple);
          v->items.resize(op - 0x84);
          for (auto it = v->items.rbegin(); it != v->items.rend(); ++it) *it = pop();
          push(v);
          break;
        }
        case 'a': {  // APPEND
          auto item = pop();
          append(top(), {item});
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          append(top(), items);
          break;
        }
        case 0x90: {  // ADDITEMS
          auto items = pop_mark();
          append(top(), items);
          break;
        }
        case 0x91: {  // FROZENSET
          auto v = make(Value::Kind::Set);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 's': {  // SETITEM
          auto value = pop();
          auto key = pop();
          set_items(top(), {key, value});
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
          set_items(top(), items);
          break;
        }
        case 'q':  // BINPUT
          memo(static_cast<unsigned char>(byte()));
          break;
        case 'r':  // LONG_BINPUT
          memo(little(4));
          break;
        case 0x94:  // MEMOIZE
          memo(memo_.size());
          break;
        case 'h':  // BINGET
          recall(static_cast<unsigned char>(byte()));
          break;
        case 'j':  // LONG_BINGET
          recall(little(4));
          break;
        case 'c': {  // GLOBAL "module\nname\n"
          const auto module = line();
          const auto name = line();
          push_global(module + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const auto name = pop(), module = pop();
          if (name->kind != Value::Kind::String || module->kind != Value::Kind::String)
            fail("STACK_GLOBAL of a non-string");
          push_global(module->text + "." + name->text);
          break;
        }
        case 'R': {  // REDUCE
          auto args = pop();
          auto callable = pop();
          push(call(*callable, *args));
          break;
        }
        case 0x81: {  // NEWOBJ
          auto args = pop();
          auto cls = pop();
          push(call(*cls, *args));
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          pop();
          auto args = pop();
          auto cls = pop();
          push(call(*cls, *args));
          break;
        }
        case 'b':  // BUILD: an object's state; objects are opaque here, dicts keep theirs
          pop();
          break;
        case 'Q':  // BINPERSID
          push(persistent(*pop()));
          break;
        default:
          fail(fmt::format("pickle opcode 0x{:02x} is not one torch.save writes", op));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(fmt::format("{} (at byte {} of data.pkl)", why, pos_));
  }
  char byte() {
    if (pos_ >= size_) fail("the pickle ends early");
    return data_[pos_++];
  }
  std::string bytes(std::size_t n) {
    if (n > size_ - pos_) fail("a length runs past the end of the pickle");
    std::string out(data_ + pos_, n);
    pos_ += n;
    return out;
  }
  std::uint64_t little(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(byte())) << (8 * i);
    return v;
  }
  std::size_t checked_length(std::uint64_t n) const {
    if (n > size_ - pos_) fail("a length runs past the end of the pickle");
    return static_cast<std::size_t>(n);
  }
  std::int64_t long_int(std::size_t n) {
    if (n > 8) fail("an integer wider than 64 bits");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(byte())) << (8 * i);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<std::int64_t>(v);
  }
  std::string line() {
    std::string out;
    for (char c = byte(); c != '\n'; c = byte()) out += c;
    return out;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  void push_int(std::int64_t i) {
    auto v = make(Value::Kind::Int);
    v->integer = i;
    push(v);
  }
  void push_text(Value::Kind kind, std::uint64_t n) {
    auto v = make(kind);
    v->text = bytes(checked_length(n));
    push(v);
  }
  void push_global(const std::string& name) {
    auto v = make(Value::Kind::Global);
    v->text = name;
    push(v);
  }
  ValuePtr pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("the pickle pops an empty stack");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("the pickle reads an empty stack");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("the pickle closes a mark it never opened");
    const auto mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void memo(std::uint64_t index) {
    if (index > memo_.size() + (1u << 20)) fail("a memo index far beyond the memo");
    if (memo_.size() <= index) memo_.resize(index + 1);
    memo_[index] = top();
  }
  void recall(std::uint64_t index) {
    if (index >= memo_.size() || !memo_[index]) fail("a memo entry that was never stored");
    push(memo_[index]);
  }
  void append(const ValuePtr& to, const std::vector<ValuePtr>& items) {
    if (to->kind == Value::Kind::List || to->kind == Value::Kind::Set)
      to->items.insert(to->items.end(), items.begin(), items.end());
    else if (to->kind != Value::Kind::Object)
      fail("APPEND to a " + type_name(*to));
  }
  void set_items(const ValuePtr& to, const std::vector<ValuePtr>& items) {
    if (to->kind == Value::Kind::Dict)
      to->items.insert(to->items.end(), items.begin(), items.end());
    else if (to->kind != Value::Kind::Object)  // a dict subclass we do not know: its items are not needed
      fail("SETITEM on a " + type_name(*to));
  }

  // Storage records: ('storage', type, key, location, numel).
  ValuePtr persistent(const Value& id) {
    if (id.kind != Value::Kind::Tuple || id.items.size() < 5 || id.items[0]->text != "storage")
      fail("a persistent id that is not a storage");
    const auto& type = *id.items[1];
    const auto& key = *id.items[2];
    const auto& numel = *id.items[4];
    if (type.kind != Value::Kind::Global || key.kind != Value::Kind::String || numel.kind != Value::Kind::Int)
      fail("a malformed storage id");
    const auto dtype = storage_dtype(type.text);
    if (!dtype) fail("storage of type " + type.text + " is not supported");
    const auto found = storages_.find(key.text);
    if (found != storages_.end()) return found->second;
    const auto record = records_ + "data/" + key.text;
    if (!archive_.hasRecord(record)) fail("the storage record " + record + " is missing");
    const auto size = archive_.getRecordSize(record);
    const auto element = c10::elementSize(*dtype);
    // (torch.UntypedStorage counts bytes, typed storages elements: either way, numel x element size.)
    const auto count = numel.integer;
    if (count < 0 || static_cast<std::uint64_t>(count) * element != size)
      fail(fmt::format("storage {} holds {} bytes, not {} elements of {} bytes", key.text, size, count, element));
    auto flat = torch::empty({count}, torch::TensorOptions().dtype(*dtype));
    if (size > 0) archive_.getRecord(record, flat.data_ptr(), size);
    auto v = make(Value::Kind::Storage);
    v->tensor = flat;
    storages_[key.text] = v;
    return v;
  }

  static std::vector<std::int64_t> ints(const Value& v, const char* what, const Unpickler& self) {
    if (v.kind != Value::Kind::Tuple && v.kind != Value::Kind::List) self.fail(std::string(what) + " is not a tuple");
    std::vector<std::int64_t> out;
    for (const auto& item : v.items) {
      if (item->kind != Value::Kind::Int || item->integer < 0) self.fail(std::string(what) + " holds a non-count");
      out.push_back(item->integer);
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a view checked against
  // the storage, copied out of it.
  ValuePtr rebuild_tensor(const Value& args) {
    if (args.kind != Value::Kind::Tuple || args.items.size() < 4 || args.items[0]->kind != Value::Kind::Storage ||
        args.items[1]->kind != Value::Kind::Int)
      fail("a malformed tensor");
    const auto& storage = args.items[0]->tensor;
    const auto offset = args.items[1]->integer;
    const auto size = ints(*args.items[2], "a tensor's size", *this);
    const auto stride = ints(*args.items[3], "a tensor's stride", *this);
    if (size.size() != stride.size() || size.size() > 64) fail("a tensor's size and stride differ in length");
    constexpr std::uint64_t kMax = std::uint64_t{1} << 40;
    for (std::size_t d = 0; d < size.size(); ++d)
      if (size[d] < 0 || stride[d] < 0) fail("a tensor with a negative size or stride");
    const auto elements = mme::checked_product(size, kMax);
    if (!elements) fail(fmt::format("a tensor of size {} (more than 2^40 elements)", fmt::join(size, "x")));
    const auto count = static_cast<std::int64_t>(*elements);
    // The last element the view reaches: offset + sum (size - 1) x stride, each term checked.
    std::uint64_t reach = static_cast<std::uint64_t>(std::max<std::int64_t>(offset, 0));
    for (std::size_t d = 0; d < size.size() && count > 0; ++d) {
      const auto term =
          mme::checked_mul(static_cast<std::uint64_t>(size[d] - 1), static_cast<std::uint64_t>(stride[d]), kMax);
      if (!term || (reach += *term) > kMax) fail("a tensor view reaching past 2^40 elements");
    }
    const auto last = static_cast<std::int64_t>(reach);
    if (offset < 0 || (count > 0 && last >= storage.numel()))
      fail(fmt::format("a tensor reaches element {} of a storage of {}", last, storage.numel()));
    auto v = make(Value::Kind::Tensor);
    v->tensor = count == 0 ? torch::empty(size, storage.options())
                           : storage.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
    return v;
  }

  ValuePtr call(const Value& callable, const Value& args) {
    const auto& name = callable.text;
    if (callable.kind == Value::Kind::Global) {
      if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")
        return rebuild_tensor(args);
      if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
        if (args.kind != Value::Kind::Tuple || args.items.empty()) fail("a malformed parameter");
        return args.items[0];
      }
      if (name == "torch._tensor._rebuild_from_type_v2") {  // a tensor subclass: (function, type, args, state)
        if (args.kind != Value::Kind::Tuple || args.items.size() < 3) fail("a malformed tensor subclass");
        return call(*args.items[0], *args.items[2]);
      }
      if (name == "collections.OrderedDict") {
        auto dict = make(Value::Kind::Dict);
        // OrderedDict(pairs) as well as OrderedDict() (whose items follow as SETITEMS).
        if (args.kind == Value::Kind::Tuple && !args.items.empty() && args.items[0]->kind == Value::Kind::List)
          for (const auto& pair : args.items[0]->items)
            if (pair->kind == Value::Kind::Tuple && pair->items.size() == 2) {
              dict->items.push_back(pair->items[0]);
              dict->items.push_back(pair->items[1]);
            }
        return dict;
      }
    }
    // Anything else is kept as an opaque object of that class (argparse.Namespace, numpy scalars).
    auto object = make(Value::Kind::Object);
    object->text = callable.kind == Value::Kind::Global ? name : type_name(callable);
    return object;
  }

  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::string records_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::vector<ValuePtr> memo_;
  std::map<std::string, ValuePtr> storages_;
};

// The keys under which training scripts keep a model's weights, in the order VideoMAE looks.
constexpr const char* kWeightEntries[] = {"model", "module", "state_dict", "model_state", "net"};

bool holds_tensors(const Value& dict) {
  for (std::size_t i = 1; i < dict.items.size(); i += 2)
    if (dict.items[i]->kind == Value::Kind::Tensor) return true;
  return false;
}

}  // namespace

namespace {

StateDictFile state_dict_of(ValuePtr root, const fs::path& file);

// Reads data.pkl of an opened archive.
ValuePtr unpickle(caffe2::serialize::PyTorchStreamReader& archive) {
  // The zip's records sit in one top folder ("archive/", or the file's name): the reader strips it.
  auto [pickle, size] = archive.getRecord("data.pkl");
  Unpickler unpickler(static_cast<const char*>(pickle.get()), size, archive, "");
  return unpickler.run();
}

bool legacy_format(const char* head, std::size_t size) {
  return size >= 2 && head[0] == '\x80' && head[1] == '\x02';
}

constexpr const char* kLegacy =
    "is in torch.save's format from before PyTorch 1.6 (_use_new_zipfile_serialization=False); load and save it "
    "again with a current PyTorch";

}  // namespace

StateDictFile read_state_dict(const fs::path& file) {
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw mme::FileError(file, "cannot open the weights file");
    char magic[2] = {};
    in.read(magic, 2);
    if (legacy_format(magic, static_cast<std::size_t>(in.gcount()))) throw mme::FileError(file, kLegacy);
  }
  ValuePtr root;
  try {
    caffe2::serialize::PyTorchStreamReader archive(file.string());
    root = unpickle(archive);
  } catch (const std::exception& e) {
    throw mme::FileError(file, fmt::format("cannot read it as a torch.save file: {}", error_message(e)));
  }
  return state_dict_of(root, file);
}

StateDictFile read_state_dict_bytes(const std::string& bytes, const fs::path& name) {
  if (legacy_format(bytes.data(), bytes.size())) throw mme::FileError(name, kLegacy);
  ValuePtr root;
  try {
    std::istringstream in(bytes);
    caffe2::serialize::PyTorchStreamReader archive(&in);
    root = unpickle(archive);
  } catch (const std::exception& e) {
    throw mme::FileError(name, fmt::format("cannot read it as a torch.save file: {}", error_message(e)));
  }
  return state_dict_of(root, name);
}

namespace {

StateDictFile state_dict_of(ValuePtr root, const fs::path& file) {
  if (root->kind != Value::Kind::Dict)
    throw mme::FileError(file, "holds a " + type_name(*root) + ", not a dict of weights");

  StateDictFile out;
  // The weights: the root, or the first usual entry that holds them, one level down or more
  // ({"model": {"model": ...}} happens when a checkpoint is wrapped again).
  const Value* weights = root.get();
  for (int depth = 0; depth < 4 && !holds_tensors(*weights); ++depth) {
    const Value* inner = nullptr;
    for (const char* entry : kWeightEntries)
      for (std::size_t i = 0; i + 1 < weights->items.size() && !inner; i += 2)
        if (weights->items[i]->kind == Value::Kind::String && weights->items[i]->text == entry &&
            weights->items[i + 1]->kind == Value::Kind::Dict) {
          inner = weights->items[i + 1].get();
          if (!out.under.empty()) out.under += '.';
          out.under += entry;
        }
    if (!inner) break;
    weights = inner;
  }
  if (!holds_tensors(*weights))
    throw mme::FileError(file, fmt::format("holds no tensors, neither at the top nor under any of \"{}\"",
                                           fmt::join(kWeightEntries, "\", \"")));
  // Entries beside the weights, at the top level (the run's arguments, epoch, optimiser).
  const auto first = out.under.substr(0, out.under.find('.'));
  for (std::size_t i = 0; i + 1 < root->items.size(); i += 2) {
    const auto& key = *root->items[i];
    const auto& value = *root->items[i + 1];
    std::string name = key.text;
    if (key.kind != Value::Kind::String) name = fmt::format("({} key)", type_name(key));
    if (weights == root.get()) {
      if (value.kind != Value::Kind::Tensor) out.ignored.push_back(fmt::format("{} ({})", name, type_name(value)));
    } else if (name != first) {
      out.ignored.push_back(fmt::format("{} ({})", name, type_name(value)));
    }
  }
  for (std::size_t i = 0; i + 1 < weights->items.size(); i += 2) {
    const auto& key = *weights->items[i];
    const auto& value = *weights->items[i + 1];
    if (value.kind != Value::Kind::Tensor) {
      if (weights != root.get())
        out.ignored.push_back(fmt::format("{}.{} ({})", out.under, key.text, type_name(value)));
      continue;
    }
    if (key.kind != Value::Kind::String) throw mme::FileError(file, "a tensor's key is not a string");
    out.tensors.emplace_back(key.text, value.tensor);
  }
  return out;
}

}  // namespace

namespace {

// torch.save's zip of {under: {name: tensor}}, handed to `out` piece by piece.
void write_torch_save(const NamedTensors& tensors, const std::string& under,
                      const std::function<std::size_t(const void*, std::size_t)>& out) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().to(torch::kCPU).contiguous());
  c10::IValue value(dict);
  if (!under.empty()) {
    c10::Dict<std::string, c10::Dict<std::string, torch::Tensor>> root;
    root.insert(under, dict);
    value = c10::IValue(root);
  }
  // torch::pickle_save tags typed dicts with torch.jit._pickle.restore_type_tag, a global that
  // weights_only=True refuses: the pickle is written here without those tags.
  std::vector<char> pickle;
  torch::jit::Pickler pickler(
      [&](const char* data, std::size_t size) { pickle.insert(pickle.end(), data, data + size); }, nullptr, nullptr,
      nullptr, nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  caffe2::serialize::PyTorchStreamWriter writer(out);
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
}

}  // namespace

std::vector<char> torch_save_bytes(const NamedTensors& tensors, const std::string& under) {
  std::vector<char> out;
  write_torch_save(tensors, under, [&](const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    out.insert(out.end(), bytes, bytes + size);
    return size;
  });
  return out;
}

void write_state_dict(const fs::path& file, const NamedTensors& tensors, const std::string& under) {
  // Straight into the file (a ViT-L's weights are not held twice); as for checkpoints, the zip
  // writer is told every write succeeded and commit() reports the first failure.
  mme::AtomicWriter out(file);
  write_torch_save(tensors, under, [&](const void* data, std::size_t size) {
    out.write(data, size);
    return size;
  });
  out.commit();
}

}  // namespace trainer
