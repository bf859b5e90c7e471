!> Default vegetation of host columns (monthly LAI per PFT, SAI from LAI) and how a cell-mean
!! LAI or SAI received from landemu is shared among the PFTs of a column.
!!
!! Defaults: LAI_p(m) = min_p + (peak_p - min_p) * shape(m), shape = w s(m) + (1 - w) / 2 with
!! s(m) = (1 + cos(2 pi (m - m_peak) / 12)) / 2, m_peak = July north of the equator and
!! January south of it, w = min(|lat| / 30, 1) (flat seasons in the tropics); (min, peak)
!! per ELM PFT are typical MODIS-era values (evergreen PFTs: min = peak). SAI follows the
!! Zeng (2002) recursion of CLM/ELM VegStructUpdate: SAI_m = max(a SAI_{m-1} +
!! max(LAI_{m-1} - LAI_m, 0), SAI_min), a = 0.5, SAI_min = 1 (crops: a = 0, SAI_min = 0.1),
!! iterated over three years for a cyclic climatology; bare soil has no stems.
!! A received cell-mean value X is shared in proportion to the defaults:
!! X_p = d_p X / sum_q f_q d_q (uniform over vegetated PFTs when all defaults are 0).
module hm_vegetation
  use hm_constants, only: dp, npft, nmonth, pi
  implicit none
  private

  real(dp), parameter :: lai_min(npft) = [0._dp, 4.5_dp, 3.5_dp, 0.3_dp, 5.5_dp, 4.5_dp, 1._dp, &
       0.3_dp, 0.3_dp, 2._dp, 0.2_dp, 0.2_dp, 0.2_dp, 0.4_dp, 0.4_dp, 0._dp, 0._dp]
  real(dp), parameter :: lai_peak(npft) = [0._dp, 4.5_dp, 3.5_dp, 3.5_dp, 5.5_dp, 4.5_dp, 4.5_dp, &
       4.5_dp, 3.5_dp, 2._dp, 2._dp, 1.5_dp, 1.5_dp, 2.5_dp, 2.5_dp, 3.5_dp, 4._dp]
  logical, parameter :: is_crop(npft) = [.false., .false., .false., .false., .false., .false., &
       .false., .false., .false., .false., .false., .false., .false., .false., .false., .true., .true.]

  public :: default_monthly_lai, sai_from_lai, share_cell_value

contains

  !> Default monthly LAI of every PFT at latitude `lat`.
  pure subroutine default_monthly_lai(lat, mlai)
    real(dp), intent(in) :: lat                  !! latitude (degrees north)
    real(dp), intent(out) :: mlai(npft, nmonth)  !! LAI (m2 m-2), (pft, month)
    real(dp) :: peak, w, s
    integer :: m
    peak = merge(7._dp, 1._dp, lat >= 0._dp)
    w = min(max(abs(lat) / 30._dp, 0._dp), 1._dp)
    do m = 1, nmonth
      s = 0.5_dp * (1._dp + cos(2._dp * pi * (real(m, dp) - peak) / 12._dp))
      mlai(:, m) = lai_min + (lai_peak - lai_min) * (w * s + (1._dp - w) * 0.5_dp)
    end do
  end subroutine default_monthly_lai

  !> Monthly SAI from monthly LAI by the Zeng (2002) recursion (cyclic year).
  pure subroutine sai_from_lai(mlai, msai)
    real(dp), intent(in) :: mlai(npft, nmonth)   !! monthly LAI (pft, month)
    real(dp), intent(out) :: msai(npft, nmonth)  !! monthly SAI (pft, month)
    real(dp) :: a(npft), smin(npft), sai(npft)
    integer :: it, m, mprev
    a = merge(0._dp, 0.5_dp, is_crop)
    smin = merge(0.1_dp, 1._dp, is_crop)
    sai = smin
    do it = 1, 3
      do m = 1, nmonth
        mprev = modulo(m - 2, nmonth) + 1
        sai = max(a * sai + max(mlai(:, mprev) - mlai(:, m), 0._dp), smin)
        msai(:, m) = sai
      end do
    end do
    msai(1, :) = 0._dp
  end subroutine sai_from_lai

  !> Share a cell-mean value among the PFTs of a column in proportion to per-PFT defaults.
  pure subroutine share_cell_value(frac, dflt, cell_value, vmax, values)
    real(dp), intent(in) :: frac(npft)     !! PFT fractions (sum 1)
    real(dp), intent(in) :: dflt(npft)     !! default per-PFT values (weights)
    real(dp), intent(in) :: cell_value     !! received cell mean
    real(dp), intent(in) :: vmax           !! upper bound of a per-PFT value
    real(dp), intent(out) :: values(npft)  !! per-PFT values; bare soil (PFT 0) gets 0
    real(dp) :: wsum, fveg
    wsum = sum(frac(2:) * dflt(2:))
    fveg = sum(frac(2:))
    values = 0._dp
    if (wsum > 0._dp) then
      values(2:) = dflt(2:) * cell_value / wsum
    else if (fveg > 0._dp) then
      values(2:) = cell_value / fveg
    end if
    values = min(max(values, 0._dp), vmax)
  end subroutine share_cell_value

end module hm_vegetation
