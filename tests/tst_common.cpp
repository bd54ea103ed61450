// The rules the command line and the window share, each in one place (app/common, and the core's
// FallbackBackend): the sweep configuration and its one-seed rule, the lambda grid, the matrix
// cap, the source labels, how each front end words an error, the atomic file writer, and the
// fallback from a failing device to the CPU.
#include "atomic_file.h"
#include "error_text.h"
#include "scenario.h"

#include "attnsteer/backend.h"
#include "attnsteer/errors.h"
#include "attnsteer/fallback_backend.h"
#include "test_support.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cerrno>
#include <cstring>
#include <sys/resource.h>

using namespace attnsteer;

namespace {

/// A backend whose every call throws ERROR (or computes on the CPU when it is null).
class ThrowingBackend : public Backend {
  public:
    explicit ThrowingBackend(std::function<void()> fail) : fail_(std::move(fail)) {}
    std::string name() const override { return "device"; }
    using Backend::evaluate;
    std::vector<Metrics> evaluate(const Workload& workload, std::span<const double> saliency,
                                  std::span<const double> lambdas, const SteeringParams& params,
                                  const RunControl& control) override {
        ++calls;
        fail_();
        return cpu_->evaluate(workload, saliency, lambdas, params, control);
    }
    TokenRow row(const Workload& workload, std::span<const double> saliency,
                 const SteeringParams& params, int head, int query) override {
        ++calls;
        fail_();
        return cpu_->row(workload, saliency, params, head, query);
    }
    int calls = 0;

  private:
    std::function<void()> fail_;
    std::unique_ptr<Backend> cpu_ = makeCpuBackend(1);
};

Workload smallWorkload() {
    WorkloadSpec spec;
    spec.heads = 2, spec.queries = 4, spec.keys = 16;
    return Workload::generate(spec);
}

QByteArray contents(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray("(missing)");
}

} // namespace

class TestCommon : public QObject {
    Q_OBJECT

  private slots:
    void sweepConfigKeepsOneSeedWhenNothingVaries() {
        Scenario scenario;
        scenario.params.eps = 1e-3;
        scenario.params.steeredHeads = {1};
        scenario.normalization = Normalization::ZScore;
        const Workload workload = smallWorkload();
        const std::vector<double> saliency(16, 0.5);
        const std::vector<std::uint64_t> seeds = {4, 5, 6};
        // Both fixed: one seed.
        SweepConfig config = sweepConfigFor(scenario, &workload, &saliency, {0, 1}, seeds);
        QCOMPARE(config.seeds, std::vector<std::uint64_t>{4});
        QCOMPARE(config.workload, &workload);
        QCOMPARE(*config.saliencyRaw, saliency);
        QCOMPARE(config.lambdas, (std::vector<double>{0, 1}));
        QCOMPARE(config.params.eps, 1e-3);
        QCOMPARE(config.params.steeredHeads, std::vector<int>{1});
        QCOMPARE(config.normalization, Normalization::ZScore);
        // Either one random: every seed.
        QCOMPARE(sweepConfigFor(scenario, &workload, nullptr, {0}, seeds).seeds, seeds);
        config = sweepConfigFor(scenario, nullptr, &saliency, {0}, seeds);
        QCOMPARE(config.seeds, seeds);
        QVERIFY(config.workload == nullptr);
        QVERIFY(!sweepConfigFor(scenario, nullptr, nullptr, {0}, seeds).saliencyRaw);
    }

    void lambdaGridAndMatrixCap() {
        QCOMPARE(evenLambdaGrid(5, 2.0), (std::vector<double>{0, 0.5, 1, 1.5, 2}));
        QCOMPARE(evenLambdaGrid(1, 2.0), std::vector<double>{0});
        const std::vector<double> grid = evenLambdaGrid(64, 0.3);
        QCOMPARE(grid.size(), std::size_t(64));
        QCOMPARE(grid.back(), 0.3);                    // exactly the maximum, not 63 * (0.3 / 63)
        QCOMPARE(matrixQueries(1024, 1024), 1024);     // 1 Mi cells fit in 4 Mi
        QCOMPARE(matrixQueries(8192, 8192), 512);      // 4 Mi / 8192
        QCOMPARE(matrixQueries(10, 1 << 23), 1);       // at least one row
        QCOMPARE(matrixQueries(100, 64, 64 * 10), 10); // a cap of 10 rows
        QCOMPARE(kMaxMatrixCells, std::size_t(1) << 22);
    }

    void sourceLabels() {
        Scenario scenario;
        scenario.spec.seed = 7;
        QCOMPARE(workloadLabel(scenario, PathStyle::FileName),
                 std::string("random logits, seed 7"));
        QCOMPARE(saliencyLabel(scenario, PathStyle::FullPath), std::string("random, seed 7"));
        scenario.attentionPath = "/data/run/attn.npy";
        scenario.saliencyImagePath = "/data/run/mask.png";
        QCOMPARE(workloadLabel(scenario, PathStyle::FileName),
                 std::string("attention file attn.npy"));
        QCOMPARE(workloadLabel(scenario, PathStyle::FullPath),
                 std::string("attention file /data/run/attn.npy"));
        QCOMPARE(saliencyLabel(scenario, PathStyle::FileName), std::string("image mask.png"));
        scenario = Scenario{};
        scenario.logitsPath = "z.npy";
        scenario.saliencyPath = "s.npy";
        QCOMPARE(workloadLabel(scenario, PathStyle::FullPath), std::string("logits file z.npy"));
        QCOMPARE(saliencyLabel(scenario, PathStyle::FullPath), std::string("file s.npy"));
    }

    /// The transformer workload (issue 13): its spec takes --image-grid and --vision-offset, a
    /// saliency image lands on its grid, its default saliency is the simulated one.
    void transformerScenario() {
        Scenario scenario;
        scenario.spec.kind = WorkloadKind::Transformer;
        scenario.spec.heads = 1;
        scenario.spec.queries = scenario.spec.keys = 100;
        scenario.spec.seed = 3;
        scenario.simulatedSaliency.quality = 0.5;
        QVERIFY(scenario.isTransformer());
        QCOMPARE(workloadLabel(scenario, PathStyle::FileName),
                 std::string("transformer block, seed 3"));
        QCOMPARE(saliencyLabel(scenario, PathStyle::FullPath),
                 std::string("simulated, quality 0.5, seed 3"));
        scenario.simulatedSaliency.blur = 2;
        QCOMPARE(saliencyLabel(scenario, PathStyle::FullPath),
                 std::string("simulated, quality 0.5, blur 2, seed 3"));
        // The layout's grid and offset: 7 x 7 at (100 - 49) / 4 = 12 by default.
        ProjectionOptions projection = effectiveProjection(scenario, nullptr);
        QCOMPARE(projection.grid.rows, 7);
        QCOMPARE(projection.visionOffset, 12);
        scenario.projection.grid = ImageGrid{1, 4, 5};
        scenario.projection.visionOffset = 30;
        scenario.visionOffsetGiven = true;
        const WorkloadSpec spec = generatedSpec(scenario);
        QCOMPARE(spec.transformer.grid.cols, 5);
        QCOMPARE(*spec.transformer.visionOffset, 30);
        projection = effectiveProjection(scenario, nullptr);
        QCOMPARE(projection.grid.cols, 5);
        QCOMPARE(projection.visionOffset, 30);
        const PreparedScenario prepared = prepareScenario(scenario);
        QCOMPARE(prepared.workload.transformer()->layout().visionOffset, 30);
        QCOMPARE(prepared.raw.values,
                 simulatedSaliencyRaw(prepared.workload.transformer()->layout(),
                                      scenario.simulatedSaliency, 3));
        QCOMPARE(sweepConfigFor(scenario, nullptr, nullptr, {0}, {1}).simulatedSaliency.blur, 2.0);
        QCOMPARE(
            *sweepConfigFor(scenario, nullptr, nullptr, {0}, {1}).spec.transformer.visionOffset,
            30);
        // Not with a dump.
        scenario.logitsPath = "z.npy";
        QVERIFY(!scenario.isTransformer());
        QCOMPARE(testsupport::errorOf([&] { checkScenario(scenario); }),
                 QStringLiteral("--workload: transformer cannot be combined with --logits"));
    }

    /// The same error in the command line's words and in the window's.
    void errorsAreWordedByEachFrontEnd() {
        const InputError setting = settingError("vision-offset", "must be at least 0");
        QCOMPARE(commandLineMessage(setting), std::string("--vision-offset: must be at least 0"));
        QCOMPARE(windowMessage(setting), QStringLiteral("Vision offset: must be at least 0"));
        QCOMPARE(windowMessage(settingError("eps", "x")), QStringLiteral("ε: x"));
        QCOMPARE(windowMessage(settingError("no-such-control", "x")),
                 QStringLiteral("no-such-control: x"));
        const InputError file = fileError("/tmp/a.npy", "truncated");
        QCOMPARE(commandLineMessage(file), std::string("/tmp/a.npy: truncated"));
        QCOMPARE(windowMessage(file), QStringLiteral("/tmp/a.npy: truncated"));
        const InputError input = inputError("workload", "heads must be at least 1");
        QCOMPARE(commandLineMessage(input), std::string("workload: heads must be at least 1"));
        QCOMPARE(windowMessage(input), QStringLiteral("workload: heads must be at least 1"));
        const InputError plain("unknown command 'x'");
        QCOMPARE(commandLineMessage(plain), std::string("unknown command 'x'"));
        QCOMPARE(windowMessage(plain), QStringLiteral("unknown command 'x'"));
        // what() names no option spelling: the front ends do.
        QCOMPARE(std::string(setting.what()), std::string("vision-offset: must be at least 0"));
        QCOMPARE(setting.subject(), InputSubject::setting("vision-offset"));
        QCOMPARE(setting.problem(), std::string("must be at least 0"));
    }

    void atomicWriterNeverLeavesHalfAFile() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("out.csv"));
        QCOMPARE(writeFileAtomically(path, QByteArray("first\n"), false), QString());
        QCOMPARE(contents(path), QByteArray("first\n"));
        // Not overwritten unless asked.
        QCOMPARE(writeFileAtomically(path, QByteArray("second\n"), false),
                 QDir::toNativeSeparators(path) +
                     QStringLiteral(": exists and was not overwritten"));
        QCOMPARE(contents(path), QByteArray("first\n"));
        // A writer that fails: its problem, and the old file untouched.
        QCOMPARE(writeFileAtomically(path, true,
                                     [](const QString& temporary) {
                                         QFile file(temporary);
                                         if (file.open(QIODevice::WriteOnly))
                                             file.write("half");
                                         return QStringLiteral("cannot draw the picture");
                                     }),
                 QDir::toNativeSeparators(path) + QStringLiteral(": cannot draw the picture"));
        QCOMPARE(contents(path), QByteArray("first\n"));
        QCOMPARE(writeFileAtomically(path, QByteArray("second\n"), true), QString());
        QCOMPARE(contents(path), QByteArray("second\n"));
        // Nothing else in the folder: no temporary file stays behind.
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden),
                 QStringList{QStringLiteral("out.csv")});
        const QString missing = dir.filePath(QStringLiteral("no/such/file.csv"));
        QVERIFY(writeFileAtomically(missing, QByteArray("x"), false)
                    .endsWith(QStringLiteral("does not exist")));
    }

    /// A full disk, injected as a file size limit (RLIMIT_FSIZE; SIGXFSZ ignored as the
    /// programs do): the write fails with the system's reason, the good file stays, no temporary
    /// file is left.
    void atomicWriterReportsAFullDisk() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("per_token.png"));
        QCOMPARE(writeFileAtomically(path, QByteArray(100, 'g'), false), QString());
        removeTemporaryFilesOnSignals();
        rlimit saved{};
        QVERIFY(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        rlimit small = saved;
        small.rlim_cur = 4096;
        QVERIFY(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        const QString problem = writeFileAtomically(path, QByteArray(1 << 20, 'x'), true);
        const QString csvProblem = writeFilesAtomically(
            {{dir.filePath(QStringLiteral("a.csv")), QByteArray(10, 'a')},
             {dir.filePath(QStringLiteral("b.csv")), QByteArray(1 << 20, 'b')}},
            false);
        QVERIFY(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
        QCOMPARE(problem, QDir::toNativeSeparators(path) + QStringLiteral(": cannot write file: ") +
                              QString::fromLocal8Bit(std::strerror(EFBIG)));
        QCOMPARE(csvProblem, QDir::toNativeSeparators(dir.filePath(QStringLiteral("b.csv"))) +
                                 QStringLiteral(": cannot write file: ") +
                                 QString::fromLocal8Bit(std::strerror(EFBIG)));
        QCOMPARE(contents(path), QByteArray(100, 'g'));
        // Neither a.csv (all or none) nor any temporary file.
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden),
                 QStringList{QStringLiteral("per_token.png")});
    }

    /// Several files without overwriting: all or none, also when a name is taken while they are
    /// written.
    void atomicWriterWritesGroupsAllOrNone() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString a = dir.filePath(QStringLiteral("a.png")),
                      b = dir.filePath(QStringLiteral("b.png"));
        QCOMPARE(writeFilesAtomically({{a, "A"}, {b, "B"}}, false), QString());
        QCOMPARE(contents(a), QByteArray("A"));
        QCOMPARE(contents(b), QByteArray("B"));
        QVERIFY(QFile::remove(a));
        // b exists: a is not left behind either.
        QCOMPARE(writeFilesAtomically({{a, "A2"}, {b, "B2"}}, false),
                 QDir::toNativeSeparators(b) + QStringLiteral(": exists and was not overwritten"));
        QVERIFY(!QFileInfo::exists(a));
        QCOMPARE(contents(b), QByteArray("B"));
        QCOMPARE(writeFilesAtomically({{a, "A3"}, {b, "B3"}}, true), QString());
        QCOMPARE(contents(b), QByteArray("B3"));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden),
                 (QStringList{QStringLiteral("a.png"), QStringLiteral("b.png")}));
    }

    /// A DeviceError moves the call, and every later one, to the fallback, with one notice; other
    /// errors pass through.
    void fallbackBackendOnDeviceErrorOnly() {
        const Workload workload = smallWorkload();
        const std::vector<double> saliency(16, 0.25);
        SteeringParams params;
        params.lambda = 2;
        auto failing =
            std::make_shared<ThrowingBackend>([] { throw DeviceError("out of device memory"); });
        std::shared_ptr<Backend> cpu = makeCpuBackend(1);
        std::vector<std::string> notices;
        FallbackBackend backend(failing, cpu,
                                [&](const std::string& reason) { notices.push_back(reason); });
        QCOMPARE(backend.name(), std::string("device"));
        const Metrics metrics = backend.evaluate(workload, saliency, params);
        QCOMPARE(metrics.total.kl, cpu->evaluate(workload, saliency, params).total.kl);
        QCOMPARE(notices, std::vector<std::string>{"out of device memory"});
        QVERIFY(backend.fellBack());
        QCOMPARE(backend.name(), std::string("cpu"));
        backend.row(workload, saliency, params, 1, 2);
        QCOMPARE(failing->calls, 1); // not asked again
        QCOMPARE(notices.size(), std::size_t(1));

        auto refusing = std::make_shared<ThrowingBackend>(
            [] { throw settingError("eps", "must be a finite number >= 0"); });
        FallbackBackend strict(refusing, cpu,
                               [&](const std::string& reason) { notices.push_back(reason); });
        QVERIFY_THROWS_EXCEPTION(InputError, strict.evaluate(workload, saliency, params));
        QVERIFY(!strict.fellBack());
        QCOMPARE(notices.size(), std::size_t(1));
    }
};

QTEST_MAIN(TestCommon)
#include "tst_common.moc"
