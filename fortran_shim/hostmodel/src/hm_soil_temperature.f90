!> Heat conduction in the snow (one bulk layer when SWE >= 1 kg m-2) and the 10 soil layers,
!! backward Euler, zero flux at the bottom (CLM4.5 chapter 6 without soil freezing).
!!
!! The surface temperatures and the column are coupled implicitly: with the top boundary
!! flux sum_p f_p k_p (Ts_p - T_top') = K (Ts~ - T_top'), K = sum_p f_p k_p, the new top-layer
!! temperature is affine in the conductance-weighted surface temperature Ts~,
!! T_top' = alpha + beta Ts~ (two solves of the same tridiagonal system), so the patch
!! energy balances can use G_p(Ts_p) = k_p (Ts_p - alpha - beta Ts~) and stay stable for
!! half-hourly steps with a 1.75 cm top layer. The column is then updated with the patch-weighted G
!! as a flux boundary, which conserves energy exactly: sum C dz dT = G dt.
module hm_soil_temperature
  use hm_constants, only: dp, nlevsoi, cpice, tkice, tkair, denice_snow
  use hm_soil, only: soil_props, soil_thermal, zsoi, zisoi, dzsoi
  use hm_tridiagonal, only: tridiag_solve
  implicit none
  private

  !> The assembled thermal column of one step (layer 0 = snow when present).
  type, public :: thermal_column
    integer :: top = 1                       !! index of the top layer (0 with snow, else 1)
    real(dp) :: cap(0:nlevsoi) = 0._dp       !! heat capacity per area / dt (W m-2 K-1)
    real(dp) :: cond(0:nlevsoi) = 0._dp      !! conductance to the layer below (W m-2 K-1)
    real(dp) :: told(0:nlevsoi) = 0._dp      !! temperatures at the start of the step (K)
    real(dp) :: knode = 0._dp                !! surface-to-top-node conductance (W m-2 K-1)
    real(dp) :: ktop = 0._dp                 !! patch-weighted skin-to-top-node conductance,
                                             !! set by the caller before thermal_response
    real(dp) :: heatcap(0:nlevsoi) = 0._dp   !! heat capacity per area (J m-2 K-1)
  end type thermal_column

  public :: thermal_build, thermal_response, thermal_solve_flux, snow_conductivity

contains

  !> Snow thermal conductivity (W m-1 K-1), Jordan (1991).
  pure function snow_conductivity(rho) result(tk)
    real(dp), intent(in) :: rho   !! snow density (kg m-3)
    real(dp) :: tk
    tk = tkair + (7.75e-5_dp * rho + 1.105e-6_dp * rho * rho) * (tkice - tkair)
  end function snow_conductivity

  !> Assemble capacities and conductances for this step.
  pure subroutine thermal_build(sp, theta, tsoi, snow_layer, swe, tsno, dt, tc)
    type(soil_props), intent(in) :: sp          !! soil properties
    real(dp), intent(in) :: theta(nlevsoi)      !! volumetric liquid water (m3 m-3)
    real(dp), intent(in) :: tsoi(nlevsoi)       !! soil temperatures (K)
    logical, intent(in) :: snow_layer           !! a snow layer is present
    real(dp), intent(in) :: swe                 !! snow water equivalent (kg m-2)
    real(dp), intent(in) :: tsno                !! snow layer temperature (K)
    real(dp), intent(in) :: dt                  !! time step (s)
    type(thermal_column), intent(out) :: tc     !! assembled column
    real(dp) :: cv(nlevsoi), tk(nlevsoi), tks, dzs
    integer :: i
    do i = 1, nlevsoi
      call soil_thermal(sp, theta(i), cv(i), tk(i))
      tc%heatcap(i) = cv(i) * dzsoi(i)
      tc%cap(i) = tc%heatcap(i) / dt
      tc%told(i) = tsoi(i)
    end do
    do i = 1, nlevsoi - 1
      tc%cond(i) = 1._dp / ((zisoi(i) - zsoi(i)) / tk(i) + (zsoi(i + 1) - zisoi(i)) / tk(i + 1))
    end do
    tc%cond(nlevsoi) = 0._dp
    if (snow_layer) then
      tks = snow_conductivity(denice_snow)
      dzs = swe / denice_snow
      tc%top = 0
      tc%heatcap(0) = swe * cpice
      tc%cap(0) = tc%heatcap(0) / dt
      tc%told(0) = tsno
      tc%cond(0) = 1._dp / (0.5_dp * dzs / tks + zsoi(1) / tk(1))
      tc%knode = tks / (0.5_dp * dzs)
    else
      tc%top = 1
      tc%knode = tk(1) / zsoi(1)
    end if
  end subroutine thermal_build

  !> Fill the backward-Euler matrix; the top row carries the extra diagonal term `ktop_diag`.
  pure subroutine assemble(tc, ktop_diag, a, b, c, r)
    type(thermal_column), intent(in) :: tc
    real(dp), intent(in) :: ktop_diag
    real(dp), intent(out) :: a(0:nlevsoi), b(0:nlevsoi), c(0:nlevsoi), r(0:nlevsoi)
    integer :: j
    a = 0._dp
    b = 1._dp
    c = 0._dp
    r = 0._dp
    do j = tc%top, nlevsoi
      b(j) = tc%cap(j) + tc%cond(j)
      if (j > tc%top) then
        a(j) = -tc%cond(j - 1)
        b(j) = b(j) + tc%cond(j - 1)
      end if
      if (j < nlevsoi) c(j) = -tc%cond(j)
      r(j) = tc%cap(j) * tc%told(j)
    end do
    b(tc%top) = b(tc%top) + ktop_diag
  end subroutine assemble

  !> T_top' = alpha + beta Ts when the surface flux is ktop (Ts - T_top').
  pure subroutine thermal_response(tc, alpha, beta)
    type(thermal_column), intent(in) :: tc   !! assembled column
    real(dp), intent(out) :: alpha           !! response at Ts = 0 (K)
    real(dp), intent(out) :: beta            !! d T_top' / d Ts (0..1)
    real(dp) :: a(0:nlevsoi), b(0:nlevsoi), c(0:nlevsoi), r(0:nlevsoi), x(0:nlevsoi)
    integer :: n
    call assemble(tc, tc%ktop, a, b, c, r)
    n = nlevsoi - tc%top + 1
    call tridiag_solve(n, a(tc%top:), b(tc%top:), c(tc%top:), r(tc%top:), x(tc%top:))
    alpha = x(tc%top)
    r = 0._dp
    r(tc%top) = tc%ktop
    call tridiag_solve(n, a(tc%top:), b(tc%top:), c(tc%top:), r(tc%top:), x(tc%top:))
    beta = x(tc%top)
  end subroutine thermal_response

  !> New temperatures with a prescribed surface heat flux into the top layer.
  pure subroutine thermal_solve_flux(tc, gflux, tnew)
    type(thermal_column), intent(in) :: tc      !! assembled column
    real(dp), intent(in) :: gflux               !! heat flux into the top layer (W m-2)
    real(dp), intent(out) :: tnew(0:nlevsoi)    !! new temperatures (K); tnew(0) = told(0) without snow
    real(dp) :: a(0:nlevsoi), b(0:nlevsoi), c(0:nlevsoi), r(0:nlevsoi)
    integer :: n
    call assemble(tc, 0._dp, a, b, c, r)
    r(tc%top) = r(tc%top) + gflux
    n = nlevsoi - tc%top + 1
    tnew(0) = tc%told(0)
    call tridiag_solve(n, a(tc%top:), b(tc%top:), c(tc%top:), r(tc%top:), tnew(tc%top:))
  end subroutine thermal_solve_flux

end module hm_soil_temperature
