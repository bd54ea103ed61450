// The window with a CUDA device present: linked with the CUDA backend on the CPU emulator
// (gpu/emulation/), whose memory is set to 1 MiB here so that a workload can be made too big for
// it. tst_gui covers the window without a device and with injected device failures.
#include "gui_support.h"

#include "attnsteer/gpu.h"

#include <QComboBox>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace attnsteer;
using guisupport::kTimeoutMs;
using guisupport::settled;
using guisupport::smallWindow;

namespace {

/// The backends' contract (tests/tst_backends.cpp): 1e-6 relative, with a floor for values that
/// are 0 up to rounding.
bool withinBackendContract(double actual, double expected, double floor) {
    return std::abs(actual - expected) <= 1e-6 * std::abs(expected) + floor;
}

} // namespace

class TestGuiDevice : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        // Before anything asks for the device: the emulator reads its size once.
        qputenv("ATTNSTEER_EMULATED_DEVICE_MIB", "1");
        QVERIFY(settingsDir_.isValid());
        QCoreApplication::setOrganizationName(QStringLiteral("AttnSteerTest"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_gui_device"));
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir_.path());
        QVERIFY2(gpu::isAvailable(), gpu::unavailableReason().c_str());
        QCOMPARE(gpu::deviceMemoryBytes(), std::uint64_t(1) << 20);
    }

    void init() { QSettings().clear(); }

    void autoPicksTheDeviceAndMatchesTheCpu() {
        auto window = smallWindow();
        QVERIFY(window);
        const auto& c = window->controls();
        // The backend box names the device and, like --backend auto, starts on it.
        QCOMPARE(c.backend->itemText(1),
                 QStringLiteral("CUDA — ") + QString::fromStdString(gpu::deviceName()));
        QCOMPARE(c.backend->currentIndex(), 1);
        QCOMPARE(window->engine()->backend(), BackendKind::Cuda);
        const Metrics onDevice = window->engine()->lastEvaluation()->metrics;
        QCOMPARE(QString::fromStdString(onDevice.backend), QStringLiteral("cuda"));
        QVERIFY2(window->metricsText().contains(QStringLiteral(" on cuda")),
                 qPrintable(window->metricsText()));

        // The CPU, chosen in the box, shows the same numbers.
        c.backend->setCurrentIndex(0);
        QTRY_VERIFY_WITH_TIMEOUT(settled(*window) &&
                                     window->engine()->lastEvaluation()->metrics.backend == "cpu",
                                 kTimeoutMs);
        const Metrics onCpu = window->engine()->lastEvaluation()->metrics;
        QVERIFY(withinBackendContract(onDevice.total.entropySteered, onCpu.total.entropySteered,
                                      1e-12));
        QVERIFY(withinBackendContract(onDevice.total.kl, onCpu.total.kl, 1e-12));
        QVERIFY(withinBackendContract(onDevice.total.entropyReductionPct,
                                      onCpu.total.entropyReductionPct, 1e-9));

        // Back on the device, lambda moves there.
        c.backend->setCurrentIndex(1);
        window->setLambda(0.7);
        QTRY_VERIFY_WITH_TIMEOUT(settled(*window) &&
                                     window->engine()->lastEvaluation()->metrics.backend == "cuda",
                                 kTimeoutMs);
        QCOMPARE(window->engine()->lastEvaluation()->metrics.lambda, 0.7);
    }

    void workloadTooBigForTheDeviceFallsBackToCpu() {
        auto window = smallWindow();
        QVERIFY(window);
        const auto& c = window->controls();
        QCOMPARE(window->engine()->backend(), BackendKind::Cuda);
        QSignalSpy errors(window.get(), &MainWindow::errorShown);
        // 2 x 64 x 4096 logits are 2 MiB: more than the device holds. The window says so once,
        // goes back to the CPU and computes there.
        window->setWorkloadSize(2, 64, 4096);
        QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 1, kTimeoutMs);
        const QString message = errors.at(0).at(0).toString();
        QVERIFY2(message.startsWith(QStringLiteral("CUDA backend failed, using the CPU: out of "
                                                   "device memory (the workload needs 2 MiB, ")),
                 qPrintable(message));
        QTRY_VERIFY_WITH_TIMEOUT(settled(*window), kTimeoutMs);
        QCOMPARE(window->engine()->backend(), BackendKind::Cpu);
        QCOMPARE(c.backend->currentIndex(), 0);
        QCOMPARE(QString::fromStdString(window->engine()->lastEvaluation()->metrics.backend),
                 QStringLiteral("cpu"));
        QCOMPARE(window->engine()->dataSet()->workload->keys(), 4096);
        QCOMPARE(errors.size(), 1);
    }

  private:
    QTemporaryDir settingsDir_;
};

QTEST_MAIN(TestGuiDevice)
#include "tst_gui_device.moc"
