#pragma once
// One background pipeline where the latest request wins: while a job runs, a new request is
// remembered (replacing any older waiting one) and started when the running job finishes.
// Jobs run on a QThreadPool through QtConcurrent; results come back on the owner's thread.

#include "error_text.h"

#include "attnsteer/errors.h"

#include <QFutureWatcher>
#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QThreadPool>
#include <QtConcurrent>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace attnsteer {

/// What a job hands back: a value, or an error line, or nothing when it was cancelled.
template <typename Result> struct JobOutcome {
    std::optional<Result> value;
    QString error;          ///< windowMessage(InputError), or another exception's message
    bool cancelled = false; ///< the job saw its cancel flag and stopped
};

/// Passed to a job: its cancel flag and a progress callback (any thread, throttled).
struct JobControl {
    std::shared_ptr<std::atomic<bool>> cancel;
    std::function<void(double)> progress;
};

template <typename Result> class LatestJob {
  public:
    using Work = std::function<Result(const JobControl&)>;

    /// ON_DONE receives every outcome (cancelled ones too, flagged), on CONTEXT's thread, after a
    /// waiting request (if any) has been started. ON_PROGRESS receives 0..1 on CONTEXT's thread.
    LatestJob(QObject* context, QThreadPool* pool, std::function<void(JobOutcome<Result>&&)> onDone,
              std::function<void(double)> onProgress = {})
        : context_(context), pool_(pool), onDone_(std::move(onDone)),
          onProgress_(std::move(onProgress)) {
        QObject::connect(&watcher_, &QFutureWatcherBase::finished, context, [this] { finished(); });
    }
    ~LatestJob() {
        cancel();
        watcher_.disconnect();
        watcher_.waitForFinished();
    }
    LatestJob(const LatestJob&) = delete;
    LatestJob& operator=(const LatestJob&) = delete;

    /// Starts WORK now, or after the running job when one runs (then an older waiting request is
    /// dropped). CANCEL_RUNNING raises the running job's cancel flag: its result is useless.
    void request(Work work, bool cancelRunning = false) {
        if (running_) {
            pending_ = std::move(work);
            if (cancelRunning && cancel_)
                cancel_->store(true);
            return;
        }
        start(std::move(work));
    }
    /// Cancels the running job and drops the waiting one.
    void cancel() {
        pending_.reset();
        if (cancel_)
            cancel_->store(true);
    }
    bool isRunning() const { return running_; }
    bool hasPending() const { return pending_.has_value(); }

  private:
    void start(Work work) {
        running_ = true;
        cancel_ = std::make_shared<std::atomic<bool>>(false);
        JobControl control;
        control.cancel = cancel_;
        if (onProgress_) {
            QPointer<QObject> context(context_);
            auto last = std::make_shared<std::atomic<int>>(-1);
            control.progress = [context, last, this](double fraction) {
                const int percent = int(fraction * 100);
                if (last->exchange(percent) == percent || !context)
                    return;
                QMetaObject::invokeMethod(
                    context,
                    [this, fraction, context] {
                        if (context && running_)
                            onProgress_(fraction);
                    },
                    Qt::QueuedConnection);
            };
        }
        watcher_.setFuture(QtConcurrent::run(pool_, [work = std::move(work), control] {
            JobOutcome<Result> outcome;
            try {
                outcome.value = work(control);
            } catch (const Cancelled&) {
                outcome.cancelled = true;
            } catch (const InputError& error) {
                outcome.error = windowMessage(error);
            } catch (const std::exception& error) {
                outcome.error = QString::fromStdString(error.what());
            } catch (...) {
                outcome.error = QStringLiteral("unexpected error");
            }
            if (control.cancel->load())
                outcome.cancelled = true;
            return outcome;
        }));
    }

    void finished() {
        JobOutcome<Result> outcome = watcher_.future().result();
        running_ = false;
        if (pending_) {
            Work next = std::move(*pending_);
            pending_.reset();
            start(std::move(next));
        }
        onDone_(std::move(outcome));
    }

    QObject* context_;
    QThreadPool* pool_;
    std::function<void(JobOutcome<Result>&&)> onDone_;
    std::function<void(double)> onProgress_;
    QFutureWatcher<JobOutcome<Result>> watcher_;
    std::optional<Work> pending_;
    std::shared_ptr<std::atomic<bool>> cancel_;
    bool running_ = false;
};

} // namespace attnsteer
