#pragma once
// Every control of the window, for tests and for main.cpp. Each part of the window creates and
// fills its own fields; each widget has an objectName equal to its field.

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QToolButton;

namespace attnsteer {

class CollapsibleSection;
class SciSpinBox;

struct WindowControls {
    // --- ControlPanel ---
    QSlider* lambdaSlider = nullptr;  ///< 0..1000 steps over 0..lambdaMax
    QDoubleSpinBox* lambda = nullptr; ///< 3 decimals, in sync with the slider
    QDoubleSpinBox* lambdaMax = nullptr;
    SciSpinBox* eps = nullptr;
    QComboBox* normalization = nullptr;        ///< max, minmax, zscore, none, binary
    QDoubleSpinBox* binaryThreshold = nullptr; ///< T of binary (enabled only for binary)
    QLineEdit* steeredHeads = nullptr;         ///< "all" or "0,3,5" or "0:7" or "L5H3"
    QDoubleSpinBox* gateEntropy = nullptr;     ///< uncertainty gate tau, 0 = off
    QComboBox* backend = nullptr; ///< CPU; CUDA (disabled without a usable CUDA device)
    QSlider* seedSlider = nullptr;
    QSpinBox* seed = nullptr;
    QSpinBox* heads = nullptr;
    QSpinBox* queries = nullptr;
    QSpinBox* keys = nullptr;
    QDoubleSpinBox* sigma = nullptr;
    QLabel* source = nullptr; ///< where the workload and the saliency come from
    // --- WorkloadControls: the workload box and the transformer's settings ---
    QComboBox* workload = nullptr;             ///< random, transformer (WorkloadKind as data)
    QSpinBox* headDim = nullptr;               ///< the transformer's d
    QDoubleSpinBox* targetStrength = nullptr;  ///< the transformer's tau
    QSlider* saliencyQualitySlider = nullptr;  ///< 0..100 over quality 0..1
    QDoubleSpinBox* saliencyQuality = nullptr; ///< the simulated saliency's quality, 2 decimals
    QDoubleSpinBox* saliencyBlur = nullptr;    ///< its blur sigma in grid tokens, 0 = none
    // --- ProjectionControls: how a saliency image becomes per-key saliency ---
    CollapsibleSection* projectionSection = nullptr; ///< folds the five below away
    QSpinBox* visionOffset = nullptr;                ///< first key index of the vision tokens
    QSpinBox* patchFactor = nullptr;                 ///< 28 (patch 14 x merge 2); 32
    QSpinBox* minPixels = nullptr;                   ///< smallest resized area
    QSpinBox* maxPixels = nullptr;          ///< largest resized area; 0 = "auto" (K x factor²)
    QDoubleSpinBox* textSaliency = nullptr; ///< raw saliency of the other key tokens
    // --- ControlPanel, the views group ---
    QComboBox* layer = nullptr; ///< "All layers" (data -1), "Layer 0", ...; hidden for one layer
    QSpinBox* head = nullptr;   ///< head within a layer: of the row views and the matrix
    QSpinBox* query = nullptr;  ///< row of the per-token view
    QSpinBox* sweepSeeds = nullptr;
    QComboBox* perTokenMode = nullptr; ///< A'/A against s (the default), or A and A' per key
    QCheckBox* sortBySaliency = nullptr;
    QCheckBox* showDifference = nullptr;
    QComboBox* tradeoffY = nullptr;      ///< the tradeoff view's y axis (TradeoffY)
    QCheckBox* matrixLogScale = nullptr; ///< the matrix's colours on a log scale (A' only)
    // --- PlotPanel ---
    QSlider* overlayOpacity = nullptr; ///< 0..100 %
    QLabel* imageCaption = nullptr;
    QComboBox* imageMode = nullptr;      ///< what the image view shows: s, A, A', A' - A
    QCheckBox* imageQueryMean = nullptr; ///< A, A', A' - A of the mean over the head's queries
    // --- HeadsPanel: the layers x heads view ---
    QComboBox* headsColumn = nullptr; ///< the profile column shown (and ranked by)
    QSpinBox* topK = nullptr;         ///< k of "Steer top k heads"
    QPushButton* steerTopK = nullptr;
    // --- MetricsReadout ---
    QPlainTextEdit* metrics = nullptr; ///< the read-only readout
    // --- ProgressIndicator, in the status bar ---
    QLabel* computeTime = nullptr;
    QProgressBar* progress = nullptr;
    QToolButton* cancel = nullptr;
};

} // namespace attnsteer
