// libFuzzer target: a saliency image from a file, as the command line's project command and the
// window read one: checkSaliencyImage and loadSaliencyImage (app/common/saliency_image.h; Qt's
// image plugins, format from the content), then projectSaliencyMap and placeOnKeySequence
// (core/include/attnsteer/projection.h) with options taken from the front of the input:
//
//   offset  bytes  field                 as the command line would accept it
//   0       1      flags                 bit 0: --image-grid given; bit 1: --max-pixels not given
//   1       4      --patch-factor        & 0x7fffffff, 0 read as 1
//   5       8      --min-pixels          & 0x7fff'ffff'ffff'ffff
//   13      8      --max-pixels          & 0x7fff'ffff'ffff'ffff, 0 read as 1
//   21      4      --vision-offset       & 0x7fffffff
//   25      8      --text-saliency       a double; not finite read as 0
//   33      6      --image-grid          frames, rows, cols: three uint16
//   39      4      keys                  1 + value % 2^17 (the workload's; bounded so that the
//                                        per-key saliency stays at 1 MiB and inputs run fast)
//   43      ...    the image file
//
// Integers are little-endian. An InputError is the expected answer to a bad file or option; a
// crash, a sanitizer report, a hang or an oversized allocation is a finding, and so is a
// projection whose size disagrees with its grid.

#include "fuzz_support.h"

#include "saliency_image.h"

#include "attnsteer/errors.h"
#include "attnsteer/projection.h"

#include <QGuiApplication>
#include <QImage>
#include <QImageReader>
#include <QSize>
#include <QString>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

void quietMessages(QtMsgType type, const QMessageLogContext&, const QString& message) {
    if (type == QtFatalMsg) {
        std::fprintf(stderr, "qt fatal: %s\n", message.toLocal8Bit().constData());
        std::abort();
    }
}

/// Whether the target, while fuzzing (fuzzsupport::lenient), skips projecting a HEIGHT x WIDTH map
/// with OPTIONS onto KEYS keys because it is right but slow: more than 2^20 tokens take seconds an
/// input with coverage tracing. (The overflows and the oversized allocation it once stepped around
/// are fixed: the patch factor is at most 1024, a projection at most 2^24 tokens.)
bool skipWhileFuzzing(const attnsteer::ProjectionOptions& options, int keys, int height,
                      int width) {
    constexpr std::int64_t kSlowTokens = std::int64_t(1) << 20;
    if (options.grid.isSet())
        return options.grid.tokenCount() > kSlowTokens;
    if (options.patchFactor > 1024)
        return false; // refused by projectSaliencyMap before any product
    try {
        const std::int64_t maxPixels =
            options.maxPixels > 0 ? options.maxPixels
                                  : std::int64_t(keys) * options.patchFactor * options.patchFactor;
        const attnsteer::ResizedSize resized = attnsteer::smartResize(
            height, width, options.patchFactor, options.minPixels, maxPixels);
        return std::int64_t(resized.height / options.patchFactor) *
                   (resized.width / options.patchFactor) >
               kSlowTokens;
    } catch (const attnsteer::InputError&) {
        return false; // projectSaliencyMap says so too
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    // As in the window (QGuiApplication; offscreen, no display needed). Qt's warnings about
    // broken images are expected answers and would only fill the log.
    setenv("QT_QPA_PLATFORM", "offscreen", 0);
    qInstallMessageHandler(quietMessages);
    static QGuiApplication application(*argc, *argv);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace attnsteer;
    static const fuzzsupport::MemoryFile file("fuzz.image");
    fuzzsupport::FrontReader front(data, size);
    const auto flags = front.take<std::uint8_t>();
    ProjectionOptions options;
    options.patchFactor = int(front.take<std::uint32_t>() & 0x7fffffffu);
    if (options.patchFactor == 0)
        options.patchFactor = 1;
    options.minPixels = std::int64_t(front.take<std::uint64_t>() & 0x7fffffffffffffffu);
    options.maxPixels = std::int64_t(front.take<std::uint64_t>() & 0x7fffffffffffffffu);
    if (options.maxPixels == 0)
        options.maxPixels = 1;
    if (flags & 2)
        options.maxPixels = 0; // keys x patch factor^2
    options.visionOffset = int(front.take<std::uint32_t>() & 0x7fffffffu);
    options.textSaliency = front.take<double>();
    if (!std::isfinite(options.textSaliency))
        options.textSaliency = 0;
    ImageGrid grid;
    grid.frames = front.take<std::uint16_t>();
    grid.rows = front.take<std::uint16_t>();
    grid.cols = front.take<std::uint16_t>();
    const int keys = 1 + int(front.take<std::uint32_t>() % (1u << 17));
    file.assign(front.rest(), front.restSize());
    try {
        if (flags & 1) {
            checkImageGrid(grid); // as --image-grid is parsed
            options.grid = grid;
        }
        const QString path = QString::fromStdString(file.path());
        checkSaliencyImage(path);
        // While fuzzing, images whose header says more than 4 megapixels (up to the 100
        // megapixel limit that checkSaliencyImage has just applied) are not decoded: the
        // per-pixel loops with coverage tracing would take most of the time (up to seconds an
        // input) and reach no other code.
        if (const QSize size = QImageReader(path).size();
            fuzzsupport::lenient() && size.isValid() &&
            std::int64_t(size.width()) * size.height() > (1 << 22))
            return 0;
        QImage decoded;
        const SaliencyMap map = loadSaliencyImage(path, &decoded);
        if (map.width < 1 || map.height < 1 ||
            map.values.size() != std::size_t(map.width) * std::size_t(map.height) ||
            decoded.width() != map.width || decoded.height() != map.height)
            __builtin_trap();
        for (float value : map.values)
            if (!(value >= 0.0f && value <= 1.0f))
                __builtin_trap();
        if (fuzzsupport::lenient() && skipWhileFuzzing(options, keys, map.height, map.width))
            return 0;
        const SaliencyProjection projection =
            projectSaliencyMap(map.values, map.height, map.width, options, keys);
        if (projection.tokens.size() != std::size_t(projection.tokenCount()))
            __builtin_trap();
        const std::vector<double> saliency = placeOnKeySequence(projection, keys, options);
        if (saliency.size() != std::size_t(keys))
            __builtin_trap();
    } catch (const InputError&) {
    }
    return 0;
}
