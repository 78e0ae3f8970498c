// Quantizers (RTN, SINQ, pre-SINQ) and CrossQuant calibration: methods.md §2, §3.
export {};
