!> Time interpolation of monthly vegetation (LAI, SAI) the way ELM does it (interpMonthlyVeg):
!! linear between mid-month values, noleap calendar, wrapping around the year end.
module hm_phenology
  use hm_constants, only: dp, nmonth
  implicit none
  private

  integer, parameter :: ndays(nmonth) = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

  public :: monthly_weights

contains

  !> The two months bracketing an instant and the weight of the first one.
  pure subroutine monthly_weights(doy, tod, m1, m2, w1)
    integer, intent(in) :: doy       !! day of year (1..365; 366 is treated as 365)
    real(dp), intent(in) :: tod      !! time of day (s)
    integer, intent(out) :: m1       !! earlier month (1..12)
    integer, intent(out) :: m2       !! later month (1..12)
    real(dp), intent(out) :: w1      !! weight of m1; m2 gets 1 - w1
    real(dp) :: t, mid(0:nmonth + 1)
    integer :: m, cum
    cum = 0
    do m = 1, nmonth
      mid(m) = real(cum, dp) + 0.5_dp * real(ndays(m), dp)
      cum = cum + ndays(m)
    end do
    mid(0) = mid(nmonth) - 365._dp
    mid(nmonth + 1) = mid(1) + 365._dp
    t = real(min(doy, 365) - 1, dp) + min(max(tod, 0._dp), 86400._dp) / 86400._dp
    do m = 0, nmonth
      if (t >= mid(m) .and. t < mid(m + 1)) exit
    end do
    m = min(m, nmonth)
    w1 = (mid(m + 1) - t) / (mid(m + 1) - mid(m))
    m1 = m
    m2 = m + 1
    if (m1 == 0) m1 = nmonth
    if (m2 == nmonth + 1) m2 = 1
  end subroutine monthly_weights

end module hm_phenology
