// Attention dumps on disk (tensor_file.h): .npy, .npz (stored members read in place, deflated
// ones inflated once into an unlinked temporary file) and .safetensors, one array or one per
// layer, read row block by row block with pread.

#include "attnsteer/tensor_file.h"

#include "attnsteer/errors.h"
#include "npy_header.h"
#include "tensor_file_io.h"
#include "zip_archive.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>

namespace attnsteer {
namespace {

using detail::PosixFile;
using detail::printable;
using detail::quotedName;
using detail::shapeText;
using detail::StoredArray;

constexpr std::uint64_t kIntMax = std::uint64_t(std::numeric_limits<int>::max());
/// The largest safetensors JSON header read into memory.
constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;
/// Bytes per step when a deflated member is inflated.
constexpr std::size_t kInflateBlock = std::size_t(1) << 20;

/// An array as a container holds it: its name ("" for a bare .npy), shape and stored bytes.
struct NamedArray {
    std::string name;
    std::vector<std::size_t> shape;
    StoredArray stored;
};

class DumpFile final : public TensorFile {
  public:
    explicit DumpFile(const std::string& path) { path_ = path; }

    void readRows(int layer, std::size_t firstRow, std::size_t count, float* out) const override {
        if (layer < 0 || layer >= layers_)
            throw std::out_of_range("TensorFile::readRows: layer " + std::to_string(layer) +
                                    " of " + std::to_string(layers_));
        const std::size_t rows = std::size_t(heads_) * std::size_t(queries_);
        if (firstRow > rows || count > rows - firstRow)
            throw std::out_of_range("TensorFile::readRows: rows " + std::to_string(firstRow) +
                                    " + " + std::to_string(count) + " of " + std::to_string(rows));
        if (count == 0)
            return;
        // One array holds all layers one after the other, or each layer is an array of its own.
        StoredArray data =
            layerData_.size() == 1 ? layerData_.front() : layerData_[std::size_t(layer)];
        if (layerData_.size() == 1)
            data.offset += std::uint64_t(layer) * std::uint64_t(rows) * std::uint64_t(keys_) *
                           dtypeBytes(dtype_);
        detail::readElements(data, path_, std::uint64_t(firstRow) * std::uint64_t(keys_),
                             count * std::size_t(keys_), out);
    }

    /// Keeps FILE open as long as this dump; returns where it lives.
    PosixFile* keep(PosixFile file) {
        files_.push_back(std::make_unique<PosixFile>(std::move(file)));
        return files_.back().get();
    }

    /// Sets the sizes and layers from ARRAYS: one array is the whole dump, several are one per
    /// layer, ordered by the index their names end in.
    void assemble(std::vector<NamedArray> arrays);

  private:
    void setSizes(std::uint64_t layers, std::uint64_t heads, std::uint64_t queries,
                  std::uint64_t keys, const std::string& what);

    std::vector<std::unique_ptr<PosixFile>> files_;
    /// Where the data starts: one array for all layers (never one entry per layer, whose count
    /// only the file's header bounds), or one per layer.
    std::vector<StoredArray> layerData_;
};

void DumpFile::setSizes(std::uint64_t layers, std::uint64_t heads, std::uint64_t queries,
                        std::uint64_t keys, const std::string& what) {
    if (layers == 0 || heads == 0 || queries == 0 || keys == 0)
        throw fileError(path_, what + " is empty");
    // The workload flattens layers x heads x queries into int rows and keys into int columns.
    if (heads * queries > kIntMax || keys > kIntMax)
        throw fileError(path_, what + " is too large: heads x queries and keys must be below 2^31");
    if (layers > kIntMax / (heads * queries))
        throw fileError(path_, what + " is too large: layers x heads x queries must be below 2^31");
    layers_ = int(layers);
    heads_ = int(heads);
    queries_ = int(queries);
    keys_ = int(keys);
}

/// The layer index NAME ends in (its last run of digits), or nullopt.
std::optional<std::uint64_t> layerIndex(const std::string& name) {
    std::size_t start = name.size();
    while (start > 0 && name[start - 1] >= '0' && name[start - 1] <= '9')
        --start;
    if (start == name.size())
        return std::nullopt;
    std::uint64_t index = 0;
    const auto [end, error] =
        std::from_chars(name.data() + start, name.data() + name.size(), index);
    if (error != std::errc() || index > kIntMax)
        return std::numeric_limits<std::uint64_t>::max();
    return index;
}

void DumpFile::assemble(std::vector<NamedArray> arrays) {
    const auto fail = [&](const std::string& problem) { return fileError(path_, problem); };
    const std::string expectedWhole = "expected [Q,K], [H,Q,K], [L,H,Q,K] or [L,1,H,Q,K]";
    const auto batchError = [&](const std::string& prefix, std::size_t batch) {
        return fail(prefix + "batch size is " + std::to_string(batch) +
                    "; only batch 1 is supported: dump one example per file");
    };
    if (arrays.empty())
        throw fail("holds no arrays");

    if (arrays.size() == 1) {
        const NamedArray& array = arrays.front();
        const auto& s = array.shape;
        const std::string prefix =
            array.name.empty() ? "" : "array " + quotedName(array.name) + ": ";
        const std::string what = prefix + "shape " + shapeText(s);
        if (s.size() == 2)
            setSizes(1, 1, s[0], s[1], what);
        else if (s.size() == 3)
            setSizes(1, s[0], s[1], s[2], what);
        else if (s.size() == 4)
            setSizes(s[0], s[1], s[2], s[3], what);
        else if (s.size() == 5 && s[1] != 1)
            throw batchError(prefix, s[1]);
        else if (s.size() == 5)
            setSizes(s[0], s[2], s[3], s[4], what);
        else
            throw fail(what + " does not fit: " + expectedWhole);
        dtype_ = array.stored.dtype;
        if (!array.name.empty())
            layerNames_ = {array.name};
        layerData_ = {array.stored};
        return;
    }

    // One array per layer: order by the index each name ends in.
    std::vector<std::pair<std::uint64_t, const NamedArray*>> order;
    for (const NamedArray& array : arrays) {
        const auto index = layerIndex(array.name);
        if (!index)
            throw fail("array " + quotedName(array.name) +
                       " has no layer index at the end of its name (several arrays are one per "
                       "layer: 'layer_0', 'layer_1', ...)");
        if (*index > kIntMax)
            throw fail("array " + quotedName(array.name) + " has a layer index beyond 2^31");
        order.emplace_back(*index, &array);
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second->name < b.second->name;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i].first == order[i - 1].first)
            throw fail("arrays " + quotedName(order[i - 1].second->name) + " and " +
                       quotedName(order[i].second->name) + " both have layer index " +
                       std::to_string(order[i].first));
    for (std::size_t i = 0; i < order.size(); ++i)
        if (order[i].first != i)
            throw fail("layers 0.." + std::to_string(order.size() - 1) + " expected, index " +
                       std::to_string(i) + " is missing (" + quotedName(order.back().second->name) +
                       " has index " + std::to_string(order.back().first) + ")");

    // Each layer [Q,K], [H,Q,K] or [1,H,Q,K], all alike.
    const auto layerShape = [&](const NamedArray& array) {
        const auto& s = array.shape;
        const std::string prefix = "array " + quotedName(array.name) + ": ";
        if (s.size() == 2)
            return std::vector<std::size_t>{1, s[0], s[1]};
        if (s.size() == 3)
            return s;
        if (s.size() == 4 && s[0] != 1)
            throw batchError(prefix, s[0]);
        if (s.size() == 4)
            return std::vector<std::size_t>{s[1], s[2], s[3]};
        throw fail(prefix + "shape " + shapeText(s) +
                   " does not fit a layer: expected [Q,K], [H,Q,K] or [1,H,Q,K]");
    };
    const NamedArray& first = *order.front().second;
    const std::vector<std::size_t> firstShape = layerShape(first);
    for (std::size_t i = 1; i < order.size(); ++i) {
        const NamedArray& array = *order[i].second;
        const std::string layer =
            "layer " + std::to_string(i) + " (" + quotedName(array.name) + ")";
        const std::string layer0 = "layer 0 (" + quotedName(first.name) + ")";
        if (layerShape(array) != firstShape)
            throw fail(layer + " has shape " + shapeText(array.shape) + ", " + layer0 + " has " +
                       shapeText(first.shape));
        if (array.stored.dtype != first.stored.dtype)
            throw fail(layer + " is " + dtypeName(array.stored.dtype) + ", " + layer0 + " is " +
                       dtypeName(first.stored.dtype));
    }
    setSizes(order.size(), firstShape[0], firstShape[1], firstShape[2],
             "layer 0 (" + quotedName(first.name) + ") of shape " + shapeText(first.shape));
    dtype_ = first.stored.dtype;
    for (const auto& [index, array] : order) {
        layerNames_.push_back(array->name);
        layerData_.push_back(array->stored);
    }
}

/// The .npy array of SIZE bytes at OFFSET in FILE, named NAME. PREFIX names a member.
NamedArray npyArray(const std::string& path, const std::string& prefix, const PosixFile& file,
                    std::uint64_t offset, std::uint64_t size, std::string name) {
    const auto read = [&](void* buffer, std::size_t bytes, std::uint64_t at) -> std::size_t {
        if (at >= size)
            return 0;
        return file.readAt(buffer, std::size_t(std::min<std::uint64_t>(bytes, size - at)),
                           offset + at);
    };
    const detail::NpyHeader header = detail::readNpyHeader(path, prefix, size, read);
    return {std::move(name), header.shape,
            StoredArray{&file, offset + header.dataOffset, header.dtype, header.bigEndian}};
}

/// Inflates the deflated MEMBER of ARCHIVE block by block onto the end of TEMP, checking the
/// stream, its size and its CRC-32; returns where it starts in TEMP.
std::uint64_t inflateMember(const std::string& path, const PosixFile& archive,
                            const detail::ZipMember& member, PosixFile& temp) {
    const std::string prefix = "member " + quotedName(member.name) + ": ";
    const auto fail = [&](const std::string& problem) { return fileError(path, prefix + problem); };
    z_stream stream{};
    if (inflateInit2(&stream, -15) != Z_OK)
        throw fail("cannot start inflating (zlib: out of memory)");
    struct End {
        z_stream* stream;
        ~End() { inflateEnd(stream); }
    } end{&stream};

    const std::uint64_t start = temp.size();
    std::vector<unsigned char> in(
        std::size_t(std::min<std::uint64_t>(member.compressedSize, kInflateBlock)));
    std::vector<unsigned char> out(kInflateBlock);
    std::uint64_t consumed = 0, produced = 0;
    uLong crc = crc32(0, nullptr, 0);
    for (int status = Z_OK; status != Z_STREAM_END;) {
        if (stream.avail_in == 0) {
            if (consumed == member.compressedSize)
                throw fail("corrupt deflate data (the stream ends early)");
            const std::size_t n =
                std::size_t(std::min<std::uint64_t>(in.size(), member.compressedSize - consumed));
            const std::size_t got = archive.readAt(in.data(), n, member.dataOffset + consumed);
            if (got != n)
                throw fail("truncated: the file ends inside the compressed data");
            stream.next_in = in.data();
            stream.avail_in = uInt(n);
            consumed += n;
        }
        stream.next_out = out.data();
        stream.avail_out = uInt(out.size());
        const uInt availableBefore = stream.avail_in;
        status = inflate(&stream, Z_NO_FLUSH);
        const bool stuck = status == Z_BUF_ERROR && stream.avail_in == availableBefore &&
                           stream.avail_in != 0 && stream.avail_out == out.size();
        if ((status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) || stuck)
            throw fail(
                "corrupt deflate data (" +
                printable(stream.msg ? stream.msg : "zlib error " + std::to_string(status), 64) +
                ")");
        const std::size_t n = out.size() - stream.avail_out;
        if (n > member.size - produced)
            throw fail("inflates to more than the " + std::to_string(member.size) +
                       " bytes the zip directory gives");
        crc = crc32(crc, out.data(), uInt(n));
        temp.append(out.data(), n, path);
        produced += n;
    }
    if (stream.avail_in != 0 || consumed != member.compressedSize)
        throw fail("corrupt deflate data (" +
                   std::to_string(member.compressedSize - consumed + stream.avail_in) +
                   " bytes after the end of the stream)");
    if (produced != member.size)
        throw fail("inflates to " + std::to_string(produced) + " bytes, the zip directory gives " +
                   std::to_string(member.size));
    if (std::uint32_t(crc) != member.crc32) {
        char text[64];
        std::snprintf(text, sizeof text, "CRC-32 is %08x, the zip directory gives %08x",
                      unsigned(crc), unsigned(member.crc32));
        throw fail(std::string(text) + " (corrupt data)");
    }
    return start;
}

void openNpz(DumpFile& dump, const PosixFile& archive) {
    const std::string& path = dump.path();
    std::vector<NamedArray> arrays;
    PosixFile* temp = nullptr;
    for (const detail::ZipMember& member : detail::readZipDirectory(archive)) {
        if (!member.name.empty() && member.name.back() == '/')
            continue; // a folder entry
        std::string name = member.name;
        if (name.size() > 4 && name.ends_with(".npy"))
            name.resize(name.size() - 4);
        const std::string prefix = "member " + quotedName(member.name) + ": ";
        if (member.method == 0) {
            arrays.push_back(
                npyArray(path, prefix, archive, member.dataOffset, member.size, std::move(name)));
            continue;
        }
        if (!temp)
            temp = dump.keep(PosixFile::temporary(path));
        const std::uint64_t start = inflateMember(path, archive, member, *temp);
        arrays.push_back(npyArray(path, prefix, *temp, start, member.size, std::move(name)));
    }
    if (arrays.empty())
        throw fileError(path, "the archive holds no arrays");
    dump.assemble(std::move(arrays));
}

void openSafetensors(DumpFile& dump, const PosixFile& file) {
    const std::string& path = dump.path();
    const auto fail = [&](const std::string& problem) { return fileError(path, problem); };
    const std::uint64_t size = file.size();
    unsigned char lengthBytes[8];
    if (size < 8 || file.readAt(lengthBytes, 8, 0) != 8)
        throw fail("not a safetensors file: " + std::to_string(size) +
                   " bytes, shorter than the 8-byte header length");
    std::uint64_t headerSize = 0;
    for (int i = 7; i >= 0; --i)
        headerSize = (headerSize << 8) | lengthBytes[i];
    if (headerSize > size - 8)
        throw fail("safetensors header length " + std::to_string(headerSize) +
                   " exceeds the file size (" + std::to_string(size) + " bytes)");
    if (headerSize > kMaxSafetensorsHeader)
        throw fail("safetensors header length " + std::to_string(headerSize) +
                   " exceeds the limit of " + std::to_string(kMaxSafetensorsHeader) + " bytes");
    std::string text(std::size_t(headerSize), '\0');
    if (file.readAt(text.data(), text.size(), 8) != text.size())
        throw fail("cannot read file: it changed while being read");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw fail("safetensors header is not valid JSON (at byte " + std::to_string(e.byte) + ")");
    } catch (const nlohmann::json::exception&) {
        throw fail("safetensors header is not valid JSON");
    }
    if (!header.is_object())
        throw fail("safetensors header is not a JSON object");

    const std::uint64_t dataStart = 8 + headerSize, dataSize = size - dataStart;
    const PosixFile* stored = &file;
    std::vector<NamedArray> arrays;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__")
            continue;
        const std::string tensor = "tensor " + quotedName(name);
        if (!entry.is_object())
            throw fail(tensor + " is not a JSON object");
        const auto dtypeIt = entry.find("dtype");
        if (dtypeIt == entry.end() || !dtypeIt->is_string())
            throw fail(tensor + " has no dtype string");
        const std::string dtypeText = dtypeIt->get<std::string>();
        TensorDtype dtype;
        if (dtypeText == "F16")
            dtype = TensorDtype::Float16;
        else if (dtypeText == "BF16")
            dtype = TensorDtype::BFloat16;
        else if (dtypeText == "F32")
            dtype = TensorDtype::Float32;
        else if (dtypeText == "F64")
            dtype = TensorDtype::Float64;
        else
            throw fail(tensor + " has dtype " + printable(dtypeText) +
                       ", expected F16, BF16, F32 or F64");

        const auto shapeIt = entry.find("shape");
        if (shapeIt == entry.end() || !shapeIt->is_array())
            throw fail(tensor + " has no shape list");
        std::vector<std::size_t> shape;
        std::uint64_t elements = 1;
        for (const auto& dim : *shapeIt) {
            if (!dim.is_number_unsigned())
                throw fail(tensor + ": shape is not a list of non-negative integers");
            const std::uint64_t value = dim.get<std::uint64_t>();
            if (value > detail::kMaxNpyElements)
                throw fail(tensor + ": shape too large");
            shape.push_back(std::size_t(value));
        }
        for (std::size_t dim : shape) {
            if (dim == 0) {
                elements = 0;
                break;
            }
            if (dim > detail::kMaxNpyElements / elements)
                throw fail(tensor + ": shape too large");
            elements *= dim;
        }

        const auto offsetsIt = entry.find("data_offsets");
        if (offsetsIt == entry.end() || !offsetsIt->is_array() || offsetsIt->size() != 2 ||
            !(*offsetsIt)[0].is_number_unsigned() || !(*offsetsIt)[1].is_number_unsigned())
            throw fail(tensor + " has no data_offsets [begin, end]");
        const std::uint64_t begin = (*offsetsIt)[0].get<std::uint64_t>();
        const std::uint64_t end = (*offsetsIt)[1].get<std::uint64_t>();
        const std::string range =
            "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
        if (begin > end || end > dataSize)
            throw fail(tensor + ": " + range + " lie beyond the data (" + std::to_string(dataSize) +
                       " bytes after the header)");
        const std::uint64_t needed = elements * dtypeBytes(dtype);
        if (end - begin != needed)
            throw fail(tensor + ": " + range + " hold " + std::to_string(end - begin) +
                       " bytes, its shape " + shapeText(shape) + " of " + dtypeText + " needs " +
                       std::to_string(needed));
        arrays.push_back({name, std::move(shape), StoredArray{stored, dataStart + begin, dtype}});
    }
    if (arrays.empty())
        throw fail("the safetensors file holds no tensors");
    dump.assemble(std::move(arrays));
}

} // namespace

std::shared_ptr<const TensorFile> TensorFile::open(const std::string& path) {
    auto dump = std::make_shared<DumpFile>(path);
    const PosixFile* file = dump->keep(PosixFile::open(path));
    unsigned char magic[8] = {};
    const std::size_t got = file->readAt(magic, sizeof magic, 0);
    const std::string_view extension = [&] {
        const auto dot = path.find_last_of("./");
        return dot == std::string::npos || path[dot] == '/' ? std::string_view()
                                                            : std::string_view(path).substr(dot);
    }();

    if (got >= 6 && std::memcmp(magic, "\x93NUMPY", 6) == 0) {
        dump->assemble({npyArray(path, {}, *file, 0, file->size(), {})});
    } else if (got >= 4 && detail::looksLikeZip(magic)) {
        openNpz(*dump, *file);
    } else if (extension == ".npy") {
        throw fileError(path, "not a .npy file (missing NUMPY magic)");
    } else if (extension == ".npz") {
        throw fileError(path, "not a .npz file (not a zip archive)");
    } else {
        // safetensors has no magic: its header length, then a JSON object.
        unsigned char brace = 0;
        std::uint64_t headerSize = 0;
        for (int i = 7; i >= 0; --i)
            headerSize = (headerSize << 8) | magic[i];
        const bool plausible = got == 8 && headerSize >= 2 && headerSize <= file->size() - 8 &&
                               file->readAt(&brace, 1, 8) == 1 && brace == '{';
        if (extension != ".safetensors" && !plausible)
            throw fileError(path, "not a .npy, .npz or .safetensors file");
        openSafetensors(*dump, *file);
    }
    return dump;
}

} // namespace attnsteer
